import { parseDevicePublish, twinResponseTopic, type DevicePublish } from '../../protocol/topics.js';
import { mqttTwinErrorBody } from '../error-rendering.js';
import { HubError } from '../errors.js';
import type { HubEvents } from '../events.js';
import { splitIdentityKey } from '../identity/module-record.js';
import type { MethodService } from '../methods/method-service.js';
import { isoTime } from '../time.js';
import type { TwinService } from '../twin/twin-service.js';
import type { DeviceConnections } from './device-connections.js';
import { TELEMETRY_MAX_BYTES } from '../limits.js';

/** Thrown for a publish the hub does not accept: the face closes that device's connection (docs/protocol.md §1.9). */
export class ProtocolViolation extends Error {}

/** Turns what a device publishes into calls on the services and answers on its own connection. */
export class DeviceRouter {
  constructor(
    private readonly twins: TwinService,
    private readonly methods: MethodService,
    private readonly connections: DeviceConnections,
    private readonly events: HubEvents,
  ) {}

  /** Classifies first, so an invalid topic is refused before anything happens. */
  classify(deviceId: string, topic: string): DevicePublish {
    const message = parseDevicePublish(deviceId, topic);
    if (!message) throw new ProtocolViolation(`'${topic}' is not a topic device '${deviceId}' may publish to`);
    return message;
  }

  handle(deviceId: string, message: DevicePublish, payload: Buffer, flags: { retain: boolean; will: boolean }): void {
    switch (message.kind) {
      case 'telemetry': {
        if (payload.length > TELEMETRY_MAX_BYTES) throw new ProtocolViolation(`telemetry of ${payload.length} bytes exceeds ${TELEMETRY_MAX_BYTES}`);
        // RETAIN is not supported; the message is forwarded with a marker property instead, and
        // a Will sent on an ungraceful close is telemetry marked as such (docs/protocol.md §1.9).
        let properties = message.properties;
        if (flags.retain) properties = { ...properties, 'mqtt-retain': 'true' };
        if (flags.will) properties = { ...properties, 'iothub-MessageType': 'Will' };
        // A module's telemetry carries its module id (the hub's iothub-connection-module-id).
        this.events.emit('telemetry', { ...splitIdentityKey(deviceId), payload, properties, enqueuedTime: isoTime() });
        return;
      }
      case 'twinGet':
        this.answerTwin(deviceId, message.rid, () => ({ status: 200, body: JSON.stringify(this.twins.getForDevice(deviceId)) }));
        return;
      case 'reportedPatch':
        this.answerTwin(deviceId, message.rid, () => {
          const version = this.twins.patchReported(deviceId, parseJson(payload));
          return { status: 204, version, body: '' };
        });
        return;
      case 'methodResponse':
        this.methods.handleResponse(deviceId, message.rid, message.status, payload);
        return;
    }
  }

  private answerTwin(deviceId: string, rid: string, operation: () => { status: number; body: string; version?: number }): void {
    let status: number;
    let body: string;
    let version: number | undefined;
    try {
      ({ status, body, version } = operation());
    } catch (error) {
      if (!(error instanceof HubError)) throw error;
      status = error.status;
      body = mqttTwinErrorBody(error);
    }
    // The answer goes out only to a device subscribed to twin responses, as a broker would deliver it.
    if (this.connections.isSubscribed(deviceId, 'twinResponses')) {
      this.connections.send(deviceId, twinResponseTopic(status, rid, version), body);
    }
  }
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    throw new HubError('ArgumentInvalid', 'The reported properties patch is not valid JSON.');
  }
}
