/**
 * Faults a device asks for in its own telemetry, as the hub's fault-injection gateway honoured them
 * (the `AzIoTHub_FaultOperation*` application properties Microsoft's SDK e2e tests send). EMULATOR
 * CHOICE (docs/protocol.md "Throttling and faults"): honoured always, although the hub's newer
 * gateway stopped in 2026; a message without the properties is untouched.
 */
export const deviceFaultKinds = [
  'KillTcp',
  'ShutDownMqtt',
  'KillAmqpConnection',
  'KillAmqpSession',
  'KillAmqpCBSLinkReq',
  'KillAmqpCBSLinkResp',
  'KillAmqpD2CLink',
  'KillAmqpC2DLink',
  'KillAmqpTwinLinkReq',
  'KillAmqpTwinLinkResp',
  'KillAmqpMethodReqLink',
  'KillAmqpMethodRespLink',
  'ShutDownAmqp',
] as const;
export type DeviceFaultKind = (typeof deviceFaultKinds)[number];

export interface DeviceFault {
  kind: DeviceFaultKind;
  closeReason?: string;
  /** seconds after the message before the fault happens */
  delaySeconds: number;
  /** seconds the fault lasts: reconnects of the device are refused until then */
  durationSeconds: number;
}

const TYPE = 'AzIoTHub_FaultOperationType';
const MAX_SECONDS = 3600;

function seconds(value: string | null | undefined): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? Math.min(n, MAX_SECONDS) : 0;
}

/** The fault a message's properties ask for, or undefined (an unknown kind is ignored, as by the hub). */
export function readDeviceFault(properties: Record<string, string | null | undefined>): DeviceFault | undefined {
  const kind = properties[TYPE];
  if (!kind || !deviceFaultKinds.includes(kind as DeviceFaultKind)) return undefined;
  return {
    kind: kind as DeviceFaultKind,
    closeReason: properties.AzIoTHub_FaultOperationCloseReason ?? undefined,
    delaySeconds: seconds(properties.AzIoTHub_FaultOperationDelayInSecs),
    durationSeconds: seconds(properties.AzIoTHub_FaultOperationDurationInSecs),
  };
}
