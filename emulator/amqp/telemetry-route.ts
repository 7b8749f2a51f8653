import type { Logger } from 'pino';
import type { Delivery, EventContext, Receiver } from 'rhea';
import { amqpRefusal } from '../error-rendering.js';
import type { HubEvents, HubEventMap } from '../events.js';
import { readDeviceFault, type DeviceFault } from '../faults/device-fault.js';
import type { HubGate } from '../faults/hub-gate.js';
import type { RegistryService } from '../identity/registry-service.js';
import { TELEMETRY_MAX_BYTES } from '../limits.js';
import { isoTime } from '../time.js';
import { splitIdentityKey } from '../identity/module-record.js';
import type { LinkRoutes } from './link-routes.js';
import { identityRoutes } from './module-links.js';
import { payloadOf, propertiesOf } from './message-mapping.js';
import type { AmqpPeer } from './peer.js';

const FAULT_PROPERTY = 'AzIoTHub_FaultOperationType';

export interface TelemetryRouteDependencies {
  registry: RegistryService;
  events: HubEvents;
  log: Logger;
  /** throttles and chaos rules (docs/protocol.md §13); idle unless asked for */
  gate?: HubGate;
  /** a device asked for a fault in this message (`AzIoTHub_FaultOperationType`) on the link `link` of `peer` */
  onDeviceFault?(deviceId: string, fault: DeviceFault, peer: AmqpPeer, link: Receiver): void;
}

/**
 * Device-to-cloud messages on `/devices/{id}/messages/events` (azure-iot-device-amqp
 * `sendEvent`): the same `telemetry` hub event an MQTT publish raises, then `accepted`; a message
 * over 256 KB is `rejected` with amqp:link:message-size-exceeded (MessageTooLargeError). A
 * module's on `/devices/{id}/modules/{mid}/messages/events` carry its module id (docs/protocol.md §12.3).
 */
export function registerTelemetryRoute(routes: LinkRoutes, deps: TelemetryRouteDependencies): void {
  // `deviceId` is the connection key: `{deviceId}/{moduleId}` for a module.
  identityRoutes(routes).receiving('/messages/events', (ctx) => {
    const { deviceId } = ctx.params;
    ctx.link.on('message', (context: EventContext) => {
      const delivery = context.delivery!;
      const message = context.message!;
      const record = deps.registry.findIdentity(deviceId);
      if (!record || !deps.registry.mayConnect(record) || (!ctx.peer.device(deviceId) && !ctx.peer.service('DeviceConnect'))) {
        delivery.reject({ condition: 'amqp:unauthorized-access', description: `'${deviceId}' is not connected with a valid token.` });
        return;
      }
      const payload = payloadOf(message);
      if (payload.length > TELEMETRY_MAX_BYTES) {
        deps.log.info({ deviceId, bytes: payload.length }, 'AMQP telemetry refused: too large');
        delivery.reject({
          condition: 'amqp:link:message-size-exceeded',
          description: `The message is ${payload.length} bytes; IoT Hub accepts at most ${TELEMETRY_MAX_BYTES}.`,
        });
        return;
      }
      deps.registry.touch(record);
      const properties = propertiesOf(message);
      if (deps.onDeviceFault && FAULT_PROPERTY in properties) {
        const fault = readDeviceFault(properties);
        if (fault) deps.onDeviceFault(deviceId, fault, ctx.peer, ctx.link);
      }
      const event = { ...splitIdentityKey(deviceId), payload, properties, enqueuedTime: isoTime() };
      if (!deps.gate || deps.gate.idle) {
        deps.events.emit('telemetry', event);
        delivery.accept();
        return;
      }
      gatedTelemetry(deps, deps.gate, event, delivery);
    });
  });
}

/**
 * Telemetry on a throttled tier or under chaos rules (docs/protocol.md §13): beyond the D2C
 * throttle's backlog the delivery is rejected with `com.microsoft:device-container-throttled`
 * (ThrottlingError), over the daily quota with `amqp:resource-limit-exceeded`
 * (IotHubQuotaExceededError), as the hub's AMQP gateway answers; within the backlog it is taken
 * and accepted late. dropTelemetry accepts and loses it; delayPubacks holds the accept.
 */
function gatedTelemetry(deps: TelemetryRouteDependencies, gate: HubGate, event: HubEventMap['telemetry'][0], delivery: Delivery): void {
  const decision = gate.check('d2c', undefined, 1, event.payload.length);
  if (decision?.error) {
    deps.log.info({ deviceId: event.deviceId, error: decision.error.errorName }, 'AMQP telemetry refused');
    delivery.reject(amqpRefusal(decision.error, 'device') as never);
    return;
  }
  const shaped = decision?.delayMs ?? 0;
  const dropped = gate.faults.active && gate.faults.dropsTelemetry(event.deviceId);
  const held = gate.faults.active ? gate.faults.pubackDelay(event.deviceId) : 0;
  if (dropped) deps.events.emit('faultApplied', { what: 'telemetry dropped', operation: 'd2c', deviceId: event.deviceId });
  else if (shaped > 0) setTimeout(() => deps.events.emit('telemetry', event), shaped);
  else deps.events.emit('telemetry', event);
  if (held > 0) deps.events.emit('faultApplied', { what: `accept held ${held} ms`, operation: 'd2c', deviceId: event.deviceId });
  if (shaped + held === 0) return void delivery.accept();
  setTimeout(() => {
    try {
      delivery.accept();
    } catch {
      // the link or connection went away meanwhile; the device sends again
    }
  }, shaped + held);
}
