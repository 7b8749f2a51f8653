// IoT Hub's fixed limits, in one place (docs/protocol.md cites them). Settings a user may change
// live in config.ts with a flag; these are the hub's own rules.

/** Cloud-to-device messages (docs/protocol.md §C2D). */
export const c2dLimits = {
  /** messages not yet completed, rejected or dead-lettered, per device: the 51st send is refused */
  maxPendingPerDevice: 50,
  /** TTL of a message sent without an expiry */
  defaultTtlMs: 60 * 60 * 1000,
  /** the longest TTL the hub keeps a message for, whatever `expiryTimeUtc` says */
  maxTtlMs: 48 * 60 * 60 * 1000,
  /** deliveries (abandons) before a message is dead-lettered with DeliveryCountExceeded */
  maxDeliveryCount: 10,
  /** how long a delivered message stays locked waiting for complete/reject/abandon */
  lockTimeoutMs: 60 * 1000,
  /** body plus properties */
  maxMessageBytes: 64 * 1024,
  /** feedback records in one feedback message */
  maxFeedbackRecordsPerBatch: 64,
  /** how long a feedback message waits for a feedback receiver */
  feedbackTtlMs: 60 * 60 * 1000,
  /** deliveries of one feedback message before it is dropped */
  maxFeedbackDeliveryCount: 10,
} as const;
