// The hub's limits in one place (docs/protocol.md cites them by name).

/** AMQP idle time-out the hub announces in its open frame (IoT Hub's value): clients heartbeat every 120 s. */
export const AMQP_IDLE_TIMEOUT_MS = 240_000;
/** Largest AMQP frame the hub accepts; bigger transfers arrive in several frames. */
export const AMQP_MAX_FRAME_SIZE = 65_536;
/** Device-to-cloud message size limit (IoT Hub: 256 KB), on every protocol. */
export const D2C_MAX_MESSAGE_BYTES = 256 * 1024;
/** Event Hubs-compatible endpoint: partitions by default (IoT Hub's default for new hubs). */
export const EVENT_HUB_DEFAULT_PARTITIONS = 4;
/** IoT Hub allows 2 to 128 partitions. */
export const EVENT_HUB_MAX_PARTITIONS = 128;
/** Default retention of the built-in endpoint (IoT Hub's default: 1 day). */
export const EVENT_HUB_DEFAULT_RETENTION_HOURS = 24;
/** Default size bound of the retained events, over all partitions. */
export const EVENT_HUB_DEFAULT_RETENTION_MB = 1024;
/** Non-epoch receivers allowed per consumer group and partition (Event Hubs' limit). */
export const EVENT_HUB_MAX_RECEIVERS_PER_PARTITION = 5;
/** Delay before the redirect detach (docs/protocol.md §AMQP "Redirect"): the sample listens only after attach resolves. */
export const AMQP_REDIRECT_DELAY_MS = 20;

/** Cloud-to-device messages (docs/protocol.md §C2D). */
export const c2dLimits = {
  /** messages not yet completed, rejected or dead-lettered, per device: the 51st send is refused */
  maxPendingPerDevice: 50,
  /** TTL of a message sent without an expiry (the default of --c2d-default-ttl) */
  defaultTtlMs: 60 * 60 * 1000,
  /** the longest TTL the hub keeps a message for, whatever `expiryTimeUtc` says */
  maxTtlMs: 48 * 60 * 60 * 1000,
  /** deliveries (abandons) before a message is dead-lettered with DeliveryCountExceeded (the default of --c2d-max-delivery-count) */
  maxDeliveryCount: 10,
  /** the range IoT Hub allows for the max delivery count */
  maxDeliveryCountLimit: 100,
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
