import type { Logger } from 'pino';
import type { DeviceFault } from '../faults/device-fault.js';
import type { FaultInjector } from '../faults/fault-injector.js';
import type { DeviceConnections } from './device-connections.js';

/**
 * What a device-requested fault does to an MQTT device (docs/protocol.md "Throttling and faults"):
 * after the delay, KillTcp drops the TCP connection without a word and ShutDownMqtt closes it; for
 * the duration, the device's reconnects are refused with CONNACK 3 (Server unavailable), which the
 * SDKs retry. Only the connection that asked is touched (a newer one of the same device is not).
 * The AMQP kinds belong to the AMQP face; sent over MQTT they are ignored, as on the hub.
 */
export function applyMqttDeviceFault(connections: DeviceConnections, faults: FaultInjector, deviceId: string, fault: DeviceFault, log: Logger): void {
  if (fault.kind !== 'KillTcp' && fault.kind !== 'ShutDownMqtt') return;
  const client = connections.current(deviceId);
  if (!client) return;
  const timer = setTimeout(() => {
    if (connections.current(deviceId) !== client) return;
    log.info({ deviceId, fault: fault.kind, reason: fault.closeReason }, 'closing connection: fault requested by the device');
    if (fault.durationSeconds > 0) {
      faults.add({ kind: 'refuseConnects', target: { deviceId }, connackCode: 3, durationSeconds: fault.durationSeconds });
    }
    if (fault.kind === 'KillTcp') (client as unknown as { conn: { destroy(): void } }).conn.destroy();
    else client.close();
  }, fault.delaySeconds * 1000);
  timer.unref();
}
