import type { Logger } from 'pino';
import type { EventContext } from 'rhea';
import type { HubEvents } from '../events.js';
import type { RegistryService } from '../identity/registry-service.js';
import { TELEMETRY_MAX_BYTES } from '../limits.js';
import { isoTime } from '../time.js';
import { splitIdentityKey } from '../identity/module-record.js';
import type { LinkRoutes } from './link-routes.js';
import { identityRoutes } from './module-links.js';
import { payloadOf, propertiesOf } from './message-mapping.js';

/**
 * Device-to-cloud messages on `/devices/{id}/messages/events` (azure-iot-device-amqp
 * `sendEvent`): the same `telemetry` hub event an MQTT publish raises, then `accepted`; a message
 * over 256 KB is `rejected` with amqp:link:message-size-exceeded (MessageTooLargeError). A
 * module's on `/devices/{id}/modules/{mid}/messages/events` carry its module id (docs/protocol.md §12.3).
 */
export function registerTelemetryRoute(routes: LinkRoutes, deps: { registry: RegistryService; events: HubEvents; log: Logger }): void {
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
      deps.events.emit('telemetry', { ...splitIdentityKey(deviceId), payload, properties: propertiesOf(message), enqueuedTime: isoTime() });
      delivery.accept();
    });
  });
}
