import rhea from 'rhea';
import { ackModes, type AckMode, type CloudMessage, type CloudMessageContent, type FeedbackBatch, type MessageIdValue } from '../c2d/index.js';
import { HubError } from '../errors.js';

// Bodies as the IoT SDKs read them: a data section (body.content); a value section reads as empty (amqp.md §4.3, §6.3).
const DATA_SECTION = 0x75;

/** A message as rhea reads and writes it (its typings differ between versions; the fields are AMQP's). */
// biome-ignore lint/suspicious/noExplicitAny: rhea's own Message type is `{ [x: string]: any }` too; the fields are AMQP's
export type AmqpMessage = Record<string, any>;
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const DEVICEBOUND_TO = /^\/devices\/([^/]+)\/messages\/devicebound\/?$/i;
export const FEEDBACK_CONTENT_TYPE = 'application/vnd.microsoft.iothub.feedback.json';

/** The bytes of a message body, whatever section the sender used. */
export function bodyBytes(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'object' && (body as { typecode?: number }).typecode === DATA_SECTION) return bodyBytes((body as { content?: unknown }).content);
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/** rhea decodes an AMQP uuid (and binary) as a 16-byte Buffer; the service SDK sends UUID-shaped ids as uuids. */
export function readMessageId(id: unknown): MessageIdValue | undefined {
  if (id === undefined || id === null) return undefined;
  if (Buffer.isBuffer(id)) return id.length === 16 ? { value: rhea.uuid_to_string(id), type: 'uuid' } : { value: id.toString('utf8'), type: 'binary' };
  if (typeof id === 'number' || typeof id === 'bigint') return { value: String(id), type: 'ulong' };
  return { value: String(id), type: 'string' };
}

export function writeMessageId(id: MessageIdValue | undefined): unknown {
  if (!id) return undefined;
  if (id.type === 'uuid' && UUID_SHAPE.test(id.value)) return rhea.types.wrap_uuid(rhea.string_to_uuid(id.value));
  if (id.type === 'ulong' && /^\d+$/.test(id.value)) return rhea.types.wrap_ulong(Number(id.value));
  if (id.type === 'binary') return Buffer.from(id.value, 'utf8');
  return id.value;
}

/**
 * A transfer on `/messages/devicebound` → the device it is for and what to queue. Bad input is a
 * HubError the link answers with `rejected` and the matching AMQP condition (docs/protocol.md §11).
 */
export function readServiceMessage(message: AmqpMessage): { deviceId: string; content: CloudMessageContent } {
  const to = typeof message.to === 'string' ? DEVICEBOUND_TO.exec(message.to) : null;
  if (!to) throw new HubError('ArgumentInvalid', `The message 'to' property must be /devices/{deviceId}/messages/devicebound (got '${String(message.to)}').`);
  let deviceId: string;
  try {
    deviceId = decodeURIComponent(to[1]);
  } catch {
    throw new HubError('ArgumentInvalid', `The device id in '${message.to}' is not valid percent-encoding.`);
  }
  const properties: Record<string, string> = {};
  let ack: AckMode = 'none';
  for (const [key, value] of Object.entries((message.application_properties ?? {}) as Record<string, unknown>)) {
    if (value === undefined || value === null) continue;
    if (key.toLowerCase() === 'iothub-ack') {
      const mode = String(value).toLowerCase() as AckMode;
      if (!ackModes.includes(mode)) throw new HubError('ArgumentInvalid', `iothub-ack '${String(value)}' is invalid: use none, positive, negative or full.`);
      ack = mode;
      continue;
    }
    properties[key] = value instanceof Date ? value.toISOString() : String(value);
  }
  const annotations: Record<string, string> = {};
  for (const key of ['iothub-interface-id', 'dt-subject']) {
    const value = (message.message_annotations as Record<string, unknown> | undefined)?.[key];
    if (typeof value === 'string') annotations[key] = value;
  }
  const expiry = message.absolute_expiry_time as unknown;
  const expiryTimeMs = expiry instanceof Date ? expiry.getTime() : typeof expiry === 'number' ? expiry : undefined;
  const content: CloudMessageContent = { ack, properties, body: bodyBytes(message.body) };
  const messageId = readMessageId(message.message_id);
  const correlationId = readMessageId(message.correlation_id);
  if (messageId) content.messageId = messageId;
  if (correlationId) content.correlationId = correlationId;
  if (message.user_id !== undefined && message.user_id !== null)
    content.userId = Buffer.isBuffer(message.user_id) ? message.user_id.toString('utf8') : String(message.user_id);
  if (typeof message.content_type === 'string') content.contentType = message.content_type;
  if (typeof message.content_encoding === 'string') content.contentEncoding = message.content_encoding;
  if (expiryTimeMs !== undefined && Number.isFinite(expiryTimeMs)) content.expiryTimeMs = expiryTimeMs;
  if (Object.keys(annotations).length > 0) content.annotations = annotations;
  return { deviceId, content };
}

/** A queued message as an AMQP device receives it on `/devices/{id}/messages/devicebound` (amqp.md §6.3). */
export function deviceMessage(message: CloudMessage, hubName: string): AmqpMessage {
  const amqp: AmqpMessage = {
    to: `/devices/${message.deviceId}/messages/devicebound`,
    user_id: Buffer.from(hubName, 'utf8'),
    delivery_count: message.deliveryCount,
    application_properties: { ...message.properties, 'iothub-ack': message.ack },
    message_annotations: {
      ...message.annotations,
      'x-opt-sequence-number': rhea.types.wrap_long(message.seq),
      'x-opt-enqueued-time': new Date(message.enqueuedMs),
    },
    body: rhea.message.data_section(message.body),
  };
  if (message.messageId) amqp.message_id = writeMessageId(message.messageId);
  if (message.correlationId) amqp.correlation_id = writeMessageId(message.correlationId);
  if (message.expiryTimeMs !== undefined) amqp.absolute_expiry_time = new Date(message.expiresMs);
  if (message.contentType) amqp.content_type = message.contentType;
  if (message.contentEncoding) amqp.content_encoding = message.contentEncoding;
  return amqp;
}

/** A feedback message as `/messages/serviceBound/feedback` carries it (amqp.md §4.3). */
export function feedbackMessage(batch: FeedbackBatch, hubName: string): AmqpMessage {
  return {
    message_id: batch.messageId,
    user_id: Buffer.from(hubName, 'utf8'),
    content_type: FEEDBACK_CONTENT_TYPE,
    message_annotations: { 'iothub-enqueuedtime': new Date(batch.createdMs) },
    body: rhea.message.data_section(Buffer.from(JSON.stringify(batch.records), 'utf8')),
  };
}

/** The AMQP error condition for a refused C2D send, as azure-iothub's translateError maps it back. */
export function sendErrorCondition(error: HubError): string {
  switch (error.errorName) {
    case 'DeviceNotFound':
      return 'amqp:not-found';
    case 'DeviceMaximumQueueDepthExceeded':
      return 'amqp:resource-limit-exceeded';
    case 'MessageTooLarge':
      return 'amqp:link:message-size-exceeded';
    case 'IotHubUnauthorizedAccess':
    case 'IotHubUnauthorized':
      return 'amqp:unauthorized-access';
    case 'ArgumentInvalid':
    case 'ArgumentNull':
      return 'com.microsoft:argument-error';
    default:
      return 'amqp:internal-error';
  }
}
