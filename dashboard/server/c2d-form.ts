import { type CloudMessageContent, HubError, isJsonObject } from '../../emulator/index.js';

const ACK_MODES = ['none', 'positive', 'negative', 'full'] as const;
// azure-iothub sends a UUID-shaped message id as an AMQP uuid and anything else as a string; an
// AMQP device gets the same type back, so the dashboard types them the same way.
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * The device page's cloud-to-device form → what `CloudToDeviceService.send` queues: the fields of
 * the service SDK's `Message` (`data`, `messageId`, `correlationId`, `ack`, `expiryTimeUtc`,
 * `contentType`, `contentEncoding`, `properties`), as azure-iothub's `Client.send` puts them on
 * the wire. What the SDK could not send is refused here with the hub's 400; what the hub itself
 * refuses (an unknown device, a full queue, 64 KB) is the service's own error.
 */
export function readC2dForm(body: unknown): CloudMessageContent {
  if (!isJsonObject(body)) throw invalid('The message must be a JSON object.');
  const content: CloudMessageContent = { ack: 'none', properties: {}, body: Buffer.alloc(0) };
  if (body.body !== undefined && body.body !== null) {
    if (typeof body.body !== 'string') throw invalid('body must be a string (the message body, sent as UTF-8).');
    content.body = Buffer.from(body.body, 'utf8');
  }
  if (body.ack !== undefined && body.ack !== null && body.ack !== '') {
    const ack = ACK_MODES.find((mode) => mode === body.ack);
    if (!ack) throw invalid(`iothub-ack '${String(body.ack)}' is invalid: use none, positive, negative or full.`);
    content.ack = ack;
  }
  for (const name of ['messageId', 'correlationId'] as const) {
    const value = optionalString(body[name], name);
    if (value !== undefined) content[name] = { value, type: UUID_SHAPE.test(value) ? 'uuid' : 'string' };
  }
  const contentType = optionalString(body.contentType, 'contentType');
  if (contentType !== undefined) content.contentType = contentType;
  const contentEncoding = optionalString(body.contentEncoding, 'contentEncoding');
  if (contentEncoding !== undefined) content.contentEncoding = contentEncoding;
  if (body.expiryTimeUtc !== undefined && body.expiryTimeUtc !== null && body.expiryTimeUtc !== '') {
    const ms = typeof body.expiryTimeUtc === 'string' ? Date.parse(body.expiryTimeUtc) : Number.NaN;
    if (!Number.isFinite(ms)) throw invalid(`expiryTimeUtc '${String(body.expiryTimeUtc)}' is not an ISO 8601 time.`);
    content.expiryTimeMs = ms;
  }
  if (body.properties !== undefined && body.properties !== null) {
    if (!isJsonObject(body.properties)) throw invalid('properties must be an object of names and string values.');
    for (const [key, value] of Object.entries(body.properties)) {
      if (key.trim() === '') throw invalid('A property needs a name.');
      if (key.toLowerCase() === 'iothub-ack') throw invalid('iothub-ack is not an application property here: choose it under Acknowledgement.');
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw invalid(`Property '${key}' must have a string value (the SDK's properties.add takes strings).`);
      }
      content.properties[key] = String(value);
    }
  }
  return content;
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(`${name} must be a string.`);
  return value;
}

function invalid(message: string): HubError {
  return new HubError('ArgumentInvalid', message);
}
