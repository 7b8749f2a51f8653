import type { Logger } from 'pino';
import { amqpRefusal } from '../error-rendering.js';
import type { HubEvents } from '../events.js';
import type { HubGate } from '../faults/hub-gate.js';

/**
 * What the hub does with a device's first put-token on an AMQP connection (its "connect"):
 * go on, answer late (the tier's connection throttle shaping a burst), answer 401 (a chaos rule
 * refusing with an authorization code), or close the connection with an AMQP error the SDKs
 * retry (the throttle beyond its backlog, a rule refusing as the hub does while unavailable).
 */
export type ConnectAdmission =
  | undefined
  | { kind: 'later'; delayMs: number }
  | { kind: 'unauthorized'; description: string }
  | { kind: 'close'; condition: string; description: string };

/**
 * The AMQP face's one question at connect time (docs/protocol.md §13), the analogue of the MQTT
 * face's CONNACK refusals: a rule's CONNACK 3 (Server unavailable, also a simulated restart or a
 * device-requested fault's duration) closes the connection with `com.microsoft:timeout`, which the
 * device SDK reads as `ServiceUnavailableError` and retries; any other CONNACK code (bad
 * credentials, not authorized, identifier rejected) answers the put-token with 401, which it does
 * not retry, as it does not retry those CONNACKs. The connection throttle beyond its backlog
 * closes with `com.microsoft:device-container-throttled` (`ThrottlingError`, retried).
 */
export function amqpConnectGate(gate: HubGate, events: HubEvents, log: Logger): (deviceId: string) => ConnectAdmission {
  return (deviceId) => {
    if (gate.idle) return undefined;
    const code = gate.faults.active ? gate.faults.connectRefusal(deviceId) : undefined;
    if (code !== undefined) {
      log.info({ deviceId, returnCode: code }, 'AMQP connection refused: a fault rule is in force');
      events.emit('faultApplied', { what: `connect refused (AMQP, as CONNACK ${code})`, operation: 'connect', deviceId });
      if (code === 3)
        return { kind: 'close', condition: 'com.microsoft:timeout', description: `The hub is unavailable to device '${deviceId}' for now; retry later.` };
      return { kind: 'unauthorized', description: `Device '${deviceId}' is not allowed to connect now.` };
    }
    const decision = gate.check('connect', undefined);
    if (decision?.error) {
      log.info({ deviceId, error: decision.error.errorName }, 'AMQP connection refused: throttled');
      const { condition, description } = amqpRefusal(decision.error, 'device');
      return { kind: 'close', condition, description };
    }
    return decision ? { kind: 'later', delayMs: decision.delayMs } : undefined;
  };
}
