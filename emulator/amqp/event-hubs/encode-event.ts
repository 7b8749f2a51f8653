import rhea, { type Message } from 'rhea';

export interface DeviceMessage {
  deviceId: string;
  /** set for a module's message: the hub's `iothub-connection-module-id` */
  moduleId?: string;
  generationId: string;
  payload: Buffer;
  /** the telemetry path's property bag: `$.`-keys are system properties, the rest user properties */
  properties: Record<string, string | null>;
  enqueuedMs: number;
}

/** IoT Hub's value for SAS-authenticated devices (docs/protocol.md §10.8). */
const AUTH_METHOD = JSON.stringify({ scope: 'device', type: 'sas', issuer: 'iothub', acceptingIpFilterRule: null });
/** The same for a module's own SAS credential (docs/protocol.md §12.3). */
const MODULE_AUTH_METHOD = JSON.stringify({ scope: 'module', type: 'sas', issuer: 'iothub', acceptingIpFilterRule: null });

// A data section holding nothing: what rhea appends after sections that carry no body.
const EMPTY_BODY_BYTES = rhea.message.encode({ body: rhea.message.data_section(Buffer.alloc(0)) }).length;

/**
 * A device message as the event a consumer receives (docs/protocol.md §10.8):
 * the hub's annotations, the device's system properties as AMQP properties, its user
 * properties as application properties, and the payload in one data section.
 */
export function encodeEvent(message: DeviceMessage, sequenceNumber: number, offset: number): Buffer {
  const enqueued = new Date(message.enqueuedMs);
  const annotations: Record<string, unknown> = {
    'iothub-connection-device-id': message.deviceId,
    ...(message.moduleId === undefined ? {} : { 'iothub-connection-module-id': message.moduleId }),
    'iothub-connection-auth-method': message.moduleId === undefined ? AUTH_METHOD : MODULE_AUTH_METHOD,
    'iothub-connection-auth-generation-id': message.generationId,
    'iothub-enqueuedtime': enqueued,
    'iothub-message-source': 'Telemetry',
  };
  const amqp: Message = { body: rhea.message.data_section(message.payload) };
  const application: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(message.properties)) {
    if (!key.startsWith('$.')) {
      application[key] = value;
      continue;
    }
    if (value === null) continue;
    switch (key) {
      case '$.mid':
        amqp.message_id = value;
        break;
      case '$.cid':
        amqp.correlation_id = value;
        break;
      case '$.uid':
        (amqp as { user_id?: unknown }).user_id = Buffer.from(value, 'utf8');
        break;
      case '$.ct':
        amqp.content_type = value;
        break;
      case '$.ce':
        amqp.content_encoding = value;
        break;
      case '$.exp': {
        const ms = Date.parse(value);
        if (!Number.isNaN(ms)) amqp.absolute_expiry_time = new Date(ms);
        break;
      }
      case '$.ifid':
        annotations['iothub-interface-id'] = value;
        break;
      case '$.sub':
        annotations['dt-subject'] = value;
        break;
      default:
        // other `$.` keys ($.to, $.on, …) only steer routing on the real hub
        break;
    }
  }
  annotations['x-opt-sequence-number'] = rhea.types.wrap_long(sequenceNumber);
  annotations['x-opt-offset'] = String(offset);
  annotations['x-opt-enqueued-time'] = enqueued;
  amqp.message_annotations = annotations;
  if (Object.keys(application).length > 0) amqp.application_properties = application;
  return rhea.message.encode(amqp);
}

/** The delivery-annotations section alone, to put in front of a stored event (track-last-enqueued). */
export function encodeDeliveryAnnotations(annotations: Record<string, unknown>): Buffer {
  const withBody = rhea.message.encode({ delivery_annotations: annotations, body: rhea.message.data_section(Buffer.alloc(0)) });
  return withBody.subarray(0, withBody.length - EMPTY_BODY_BYTES);
}
