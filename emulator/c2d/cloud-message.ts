/** What `iothub-ack` asks for: which outcomes produce a feedback record (docs/protocol.md §11). */
export type AckMode = 'none' | 'positive' | 'negative' | 'full';
export const ackModes: readonly AckMode[] = ['none', 'positive', 'negative', 'full'];

/** The feedback status codes IoT Hub writes into feedback records. */
export type FeedbackStatus = 'Success' | 'Expired' | 'DeliveryCountExceeded' | 'Rejected' | 'Purged';

/**
 * An AMQP message id or correlation id as the sender typed it: the service SDK sends UUID-shaped
 * ids as AMQP uuids and everything else as strings, and an AMQP device gets the same type back.
 */
export interface MessageIdValue {
  value: string;
  type: 'string' | 'uuid' | 'ulong' | 'binary';
}

/** The parts of a cloud-to-device message the hub keeps and delivers. */
export interface CloudMessageContent {
  messageId?: MessageIdValue;
  correlationId?: MessageIdValue;
  userId?: string;
  contentType?: string;
  contentEncoding?: string;
  /** absolute expiry as the sender asked it (ms since the epoch), before the hub's own bounds */
  expiryTimeMs?: number;
  ack: AckMode;
  /** application properties (iothub-ack excluded), string values */
  properties: Record<string, string>;
  /** message annotations the service sent that devices see too (iothub-interface-id, dt-subject) */
  annotations?: Record<string, string>;
  body: Buffer;
}

/** A queued message: its content plus what the hub tracks about it. */
export interface CloudMessage extends CloudMessageContent {
  /** per hub, increasing: FIFO order, the row key, and AMQP's x-opt-sequence-number */
  seq: number;
  deviceId: string;
  /** the device's generationId when the message was sent (feedback reports it) */
  deviceGenerationId: string;
  enqueuedMs: number;
  /** when the hub dead-letters it as Expired */
  expiresMs: number;
  /** deliveries that ended in abandon (AMQP's delivery-count header on the next delivery) */
  deliveryCount: number;
}

export interface FeedbackRecord {
  originalMessageId: string;
  description: string;
  statusCode: FeedbackStatus;
  deviceId: string;
  enqueuedTimeUtc: string;
  deviceGenerationId: string;
}

/** A feedback message: up to 64 records, held until a feedback receiver takes it. */
export interface FeedbackBatch {
  seq: number;
  /** the feedback message's own message-id (a UUID) */
  messageId: string;
  createdMs: number;
  expiresMs: number;
  deliveryCount: number;
  records: FeedbackRecord[];
}

// The descriptions the hub pairs with each status code.
export const feedbackDescriptions: Record<FeedbackStatus, string> = {
  Success: 'Success',
  Expired: 'Message expired',
  DeliveryCountExceeded: 'Message delivery count exceeded',
  Rejected: 'Message rejected',
  Purged: 'Message purged',
};

/** Whether an outcome produces a feedback record under the message's ack mode. */
export function wantsFeedback(ack: AckMode, status: FeedbackStatus): boolean {
  if (ack === 'full') return true;
  if (status === 'Success') return ack === 'positive';
  return ack === 'negative';
}

/** Body and properties, as counted against the 64 KB limit. */
export function messageSize(content: CloudMessageContent): number {
  let size = content.body.length;
  for (const [k, v] of Object.entries(content.properties)) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  for (const v of [content.messageId?.value, content.correlationId?.value, content.userId, content.contentType, content.contentEncoding]) {
    if (v !== undefined) size += Buffer.byteLength(v);
  }
  return size;
}
