import type { Logger } from 'pino';
import type { Receiver, Sender } from 'rhea';
import type { HubEvents } from '../events.js';
import type { DeviceFault, DeviceFaultKind } from '../faults/device-fault.js';
import type { FaultInjector } from '../faults/fault-injector.js';
import { normalizeAddress } from './link-routes.js';
import { detachThen, type AmqpPeer } from './peer.js';

/** Which of a device's links a link fault detaches: the path after `devices/{id}/` (or `$cbs`), and whether the hub sends on it. */
const linkOfFault: Partial<Record<DeviceFaultKind, { path: string; hubSends: boolean }>> = {
  // The CBS request link carries the device's put-tokens (the hub receives), the response link the answers.
  KillAmqpCBSLinkReq: { path: '$cbs', hubSends: false },
  KillAmqpCBSLinkResp: { path: '$cbs', hubSends: true },
  KillAmqpD2CLink: { path: 'messages/events', hubSends: false },
  KillAmqpC2DLink: { path: 'messages/devicebound', hubSends: true },
  // Twin requests go device → hub, responses and desired patches hub → device.
  KillAmqpTwinLinkReq: { path: 'twin', hubSends: false },
  KillAmqpTwinLinkResp: { path: 'twin', hubSends: true },
  // Method requests go hub → device, responses device → hub.
  KillAmqpMethodReqLink: { path: 'methods/devicebound', hubSends: true },
  KillAmqpMethodRespLink: { path: 'methods/devicebound', hubSends: false },
};

/**
 * What a device-requested fault does to an AMQP device (docs/protocol.md §13), as the hub's
 * fault-injection gateway did, after `AzIoTHub_FaultOperationDelayInSecs` and to the connection
 * that asked only:
 *   KillTcp             the socket is dropped without a word
 *   KillAmqpConnection  its links are detached with `amqp:link:detach-forced`, then the
 *                       connection is closed with `amqp:connection:forced`
 *   ShutDownAmqp        the same, the connection closed without an error (an orderly shutdown)
 *   KillAmqpSession     the links of the session that carried the message are detached, then the
 *                       session is ended with `amqp:internal-error`
 *   KillAmqp…Link…      that one link is detached with `amqp:link:detach-forced`
 * The close reason is the error's description. For `AzIoTHub_FaultOperationDurationInSecs` the
 * device's reconnects are then refused (connect-gate.ts), as on MQTT. `ShutDownMqtt` is the MQTT
 * face's; sent over AMQP it is ignored, as on the hub.
 */
export function applyAmqpDeviceFault(
  faults: FaultInjector,
  deviceId: string,
  fault: DeviceFault,
  peer: AmqpPeer,
  /** the link the fault message came on: its session is the one KillAmqpSession ends */
  d2cLink: Receiver,
  events: HubEvents,
  log: Logger,
): void {
  if (fault.kind === 'ShutDownMqtt') return;
  const timer = setTimeout(() => {
    if (peer.closed) return;
    const description = fault.closeReason?.trim() || `Fault ${fault.kind} requested by the device.`;
    const link = linkOfFault[fault.kind];
    const target = link ? findLink(peer, deviceId, link.path, link.hubSends) : undefined;
    if (link && !target) {
      log.info({ deviceId, fault: fault.kind }, 'device-requested fault: the link it names is not attached; nothing to detach');
      return;
    }
    log.info({ deviceId, fault: fault.kind, reason: fault.closeReason }, 'AMQP fault requested by the device');
    events.emit('faultApplied', { what: `${fault.kind} requested by the device`, operation: 'deviceFault', deviceId });
    if (fault.durationSeconds > 0) {
      faults.add({ kind: 'refuseConnects', target: { deviceId }, connackCode: 3, durationSeconds: fault.durationSeconds });
    }
    try {
      switch (fault.kind) {
        case 'KillTcp':
          peer.destroySocket();
          break;
        case 'KillAmqpConnection':
          peer.closeInOrder({ condition: 'amqp:link:detach-forced', description }, { condition: 'amqp:connection:forced', description });
          break;
        case 'ShutDownAmqp':
          // An orderly shutdown: links detached, then the connection closed without an error.
          peer.closeInOrder({ condition: 'amqp:link:detach-forced', description });
          break;
        case 'KillAmqpSession': {
          // The session's links first (as closeInOrder does for a connection), then the session ended with the error.
          const session = d2cLink.session;
          const onSession = [...peer.links].filter((l) => l.session === session);
          detachThen(onSession, { condition: 'amqp:link:detach-forced', description }, () => {
            if (!peer.closed) session.close({ condition: 'amqp:internal-error', description } as never);
          });
          break;
        }
        default:
          target!.close({ condition: 'amqp:link:detach-forced', description } as never);
      }
    } catch (error) {
      log.debug({ err: error, deviceId, fault: fault.kind }, 'device-requested fault: the connection went away first');
    }
  }, fault.delaySeconds * 1000);
  timer.unref();
}

/** The attached link of `deviceId` (or its module) on `peer` at `devices/{id}/{path}` (or `$cbs`), in the direction asked. */
function findLink(peer: AmqpPeer, deviceId: string, path: string, hubSends: boolean): Sender | Receiver | undefined {
  for (const link of peer.links) {
    if (link.is_closed() || link.is_sender() !== hubSends) continue;
    const attach = (link as unknown as { remote?: { attach?: { source?: { address?: string }; target?: { address?: string } } } }).remote?.attach;
    const address = normalizeAddress((hubSends ? attach?.source?.address : attach?.target?.address) ?? '').toLowerCase();
    if (path === '$cbs') {
      if (address === '$cbs') return link;
      continue;
    }
    const m = /^devices\/([^/]+)(?:\/modules\/([^/]+))?\/(.+)$/.exec(address);
    if (!m || m[3] !== path) continue;
    const key = m[2] === undefined ? safeDecode(m[1]) : `${safeDecode(m[1])}/${safeDecode(m[2])}`;
    if (key.toLowerCase() === deviceId.toLowerCase()) return link;
  }
  return undefined;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
