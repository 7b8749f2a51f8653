import rhea, { type Message } from 'rhea';

/**
 * An AMQP message from a device in the MQTT property-bag form the hub's telemetry path carries
 * (`$.mid`, `$.cid`, `$.ct`, … and user properties), so recording, monitor and the Event
 * Hubs-compatible endpoint treat both protocols alike (docs/protocol.md §10.5).
 */
export function propertiesOf(message: Message): Record<string, string | null> {
  const properties: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(message.application_properties ?? {})) {
    properties[key] = value === null || value === undefined ? null : stringOf(value);
  }
  const system: [string, unknown][] = [
    ['$.mid', message.message_id],
    ['$.cid', message.correlation_id],
    ['$.uid', message.user_id],
    ['$.ct', message.content_type],
    ['$.ce', message.content_encoding],
    ['$.exp', message.absolute_expiry_time],
  ];
  const annotations = message.message_annotations ?? {};
  system.push(['$.ifid', annotations['iothub-interface-id']], ['$.sub', annotations['dt-subject']]);
  for (const [key, value] of system) {
    if (value !== undefined && value !== null) properties[key] = key === '$.uid' && Buffer.isBuffer(value) ? value.toString('utf8') : stringOf(value);
  }
  return properties;
}

/** The payload bytes of a data, value or sequence body. */
export function payloadOf(message: Message): Buffer {
  const body = message.body as unknown;
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  const section = body as { typecode?: number; content?: unknown; multiple?: boolean };
  if (section.typecode === 0x75) {
    if (section.multiple && Array.isArray(section.content)) return Buffer.concat(section.content.map((c) => Buffer.from(c as Buffer)));
    return Buffer.from(section.content as Buffer);
  }
  return Buffer.from(JSON.stringify(section.content ?? body), 'utf8');
}

/** Ids arrive as strings, numbers or 16-byte uuids (rhea 3 decodes uuid to a Buffer). */
function stringOf(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.length === 16 ? rhea.uuid_to_string(value) : value.toString('utf8');
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
