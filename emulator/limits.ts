/**
 * Every size, count, timeout and clock cap the emulator enforces, in one place. Where IoT Hub
 * documents the limit the value is the hub's (spec section named); where the emulator chose, the
 * choice is explained. The modules that enforce a limit import it from here.
 */

// ---- HTTPS (service REST API) ----------------------------------------------------------------

/**
 * Largest request body read, on every route (express and the direct-method route alike): room
 * for a 100-device bulk body; single payload limits are checked per API. A larger body is
 * answered 413 MessageTooLarge as soon as it is known (Content-Length, or the chunk that crosses
 * it) and the connection closed rather than read to its end (docs/protocol.md §14).
 */
export const REST_BODY_LIMIT_BYTES = 1024 * 1024;
/** Node's HTTP parser limit on the request line and headers together (its default, 16 KB). */
export const REST_MAX_HEADER_BYTES = 16 * 1024;
/** How long an idle HTTPS keep-alive connection stays open (the SDKs reuse one agent). */
export const HTTPS_KEEP_ALIVE_MS = 120_000;
/**
 * Service SAS tokens (REST `Authorization` headers) remembered as verified per hub (identity/auth.ts): the
 * Node SDK re-signs per request with second resolution, so one token repeats many times a second.
 * Past this many the memo starts again.
 */
export const SERVICE_TOKENS_REMEMBERED = 10_000;
/** Devices per bulk registry call (`POST /devices`, docs/protocol.md §3.1). */
export const BULK_MAX_DEVICES = 100;
/** `GET /devices?top=`: values outside 1–this are read as this, as the hub does. */
export const DEVICE_LIST_MAX_TOP = 1000;
/** Module identities on one device (docs/protocol.md §6: "modules per device 50"); one more is 413 TooManyModulesOnDevice. */
export const MODULES_PER_DEVICE_MAX = 50;
/** Layers of nested IoT Edge devices (IoT Edge docs: "up to five layers"); a deeper parent is 400. */
export const EDGE_NESTING_MAX_DEPTH = 5;
/** `statusReason` of a device identity. */
export const STATUS_REASON_MAX_CHARS = 128;

// ---- Configurations (automatic device management, docs/protocol.md §17) ----------

/** Configurations per hub (docs/protocol.md §6: "100 configurations" on paid tiers); one more is 403 IotHubQuotaExceeded. */
export const CONFIGURATIONS_MAX = 100;
export const CONFIGURATION_ID_MAX_CHARS = 128;
/** EMULATOR CHOICE: labels and custom metric queries per configuration (the docs give no number). */
export const CONFIGURATION_LABELS_MAX = 100;
export const CONFIGURATION_METRIC_QUERIES_MAX = 100;
/**
 * Combinations of configurations targeting a twin together whose resolution is kept between
 * evaluations; past it the cache starts again (many overlapping conditions could otherwise make
 * one per twin and keep them until a configuration changes).
 */
export const CONFIGURATION_CONTENDER_SETS_CACHED = 10_000;

// ---- Query (docs/protocol.md §3.5, §4) -------------------------------------------------------------------

/** The hub's documented limit (query-twins.md: "a maximum length of 8192 characters"). */
export const QUERY_MAX_CHARS = 8192;
/**
 * EMULATOR CHOICE (docs/protocol.md §3.5, §8.19): a page holds 100 items when x-ms-max-item-count is absent
 * or unreadable, and never more than 100 — the documented maximum ("the service may use a
 * different value if the value specified is not acceptable"). Smaller sizes are honoured.
 */
export const QUERY_DEFAULT_PAGE_SIZE = 100;
export const QUERY_MAX_PAGE_SIZE = 100;
/**
 * EMULATOR CHOICE (docs/scaling.md §3.2): how many twin paths per collection get a query index on
 * demand (declared ones included). Each costs memory per twin holding the path and a little time
 * per twin write.
 */
export const QUERY_MAX_INDEXES = 32;

// ---- Twins (docs/protocol.md §2.2) -----------------------------------------------------------------------

export const TWIN_TAGS_MAX_BYTES = 8 * 1024;
/** desired and reported, each */
export const TWIN_PROPERTIES_MAX_BYTES = 32 * 1024;
export const TWIN_MAX_DEPTH = 10;
export const TWIN_KEY_MAX_BYTES = 1024;
export const TWIN_STRING_MAX_BYTES = 4 * 1024;
export const TWIN_MAX_INTEGER = 4503599627370495;
export const TWIN_MIN_INTEGER = -4503599627370496;

// ---- Direct methods (docs/protocol.md §3.4) --------------------------------------------------------------

/** Request payload and device response, each. */
export const METHOD_PAYLOAD_MAX_BYTES = 128 * 1024;
/**
 * Direct-method names (docs/protocol.md §3.4, IoT Hub's direct-method guide): US-ASCII printable characters
 * except the HTTP separators `$ ( ) < > @ , ; : \ " / [ ] ? = { }`, space and tab, plus MQTT's
 * wildcards `#` and `+` (the name becomes a topic level). EMULATOR CHOICE: at most 128 characters
 * (the hub publishes no length; docs/protocol.md §14).
 */
export const METHOD_NAME_MAX_CHARS = 128;
export const METHOD_RESPONSE_TIMEOUT = { defaultSeconds: 30, minSeconds: 5, maxSeconds: 300 } as const;
export const METHOD_CONNECT_TIMEOUT = { defaultSeconds: 0, minSeconds: 0, maxSeconds: 300 } as const;

// ---- MQTT (docs/protocol.md §1) --------------------------------------------------------------------------

/** Device-to-cloud message size (docs/protocol.md §1.5). */
export const TELEMETRY_MAX_BYTES = 256 * 1024;
/** Server-side keep-alive cap (docs/protocol.md §1.3): 1.5 × 1177 s ≈ the Azure load balancer's 1767 s idle limit. */
export const MQTT_MAX_KEEPALIVE_SECONDS = 1177;
/** Topic filters one device connection may hold (docs/protocol.md §1.9). */
export const MQTT_MAX_SUBSCRIPTIONS = 5;
/** aedes: how long a TCP/TLS connection may take to send CONNECT, and its $SYS heartbeat. */
export const MQTT_CONNECT_TIMEOUT_MS = 30_000;
export const MQTT_HEARTBEAT_MS = 60_000;
/**
 * Identities whose last verified device token is remembered, per hub (identity/auth.ts), so a reconnect
 * with the same token skips its HMAC. ~0.4 KB each (the token text): 100,000 is ~40 MB at most,
 * reached only when that many devices connected to one hub; the oldest is forgotten past it.
 */
export const DEVICE_TOKENS_REMEMBERED = 100_000;
/**
 * The largest MQTT packet (its fixed header's remaining length) a device may send: the 256 KB
 * message plus room for the topic (device id, property bag) and the packet id. A larger one
 * closes the connection as soon as its fixed header arrives, before any of its body is buffered;
 * the same bound is the largest WebSocket frame on /$iothub/websocket (docs/protocol.md §14).
 * Flag `--mqtt-max-packet-size`, environment IOTHUB_EMULATOR_MQTT_MAX_PACKET_SIZE.
 */
export const DEFAULT_MQTT_MAX_PACKET_BYTES = TELEMETRY_MAX_BYTES + 8 * 1024;

// ---- Every listener (MQTT 8883, HTTPS/WebSocket 443, AMQP) -----------------------------------

/**
 * How long a TLS handshake may take from the TCP accept. Node's own default is 120 s, and it only
 * reports the timeout: the socket stays open unless the listener closes it (net/pending-connections.ts).
 * Flag `--tls-handshake-timeout` (seconds), environment IOTHUB_EMULATOR_TLS_HANDSHAKE_TIMEOUT.
 */
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * Connections per listener that have not authenticated yet (TLS not finished; MQTT before a
 * successful CONNECT). Beyond it a new connection is closed at once, so a flood of idle sockets
 * cannot take the descriptors the devices need. The fleet connects 100 at once by default.
 * Flag `--max-pending-connections`, environment IOTHUB_EMULATOR_MAX_PENDING_CONNECTIONS.
 */
export const DEFAULT_MAX_PENDING_CONNECTIONS = 5_000;
/** A refused connection (parser error, CONNECT, upgrade, 413) is destroyed this long after its answer. */
export const REFUSED_CONNECTION_GRACE_MS = 1000;

// ---- Clock and timers ------------------------------------------------------------------------

/**
 * How far the emulator clock may run ahead of real time: past a century, job timestamps would
 * leave what ISO dates (and the SDKs) can hold. Enforced by `Clock.advance` itself.
 */
export const CLOCK_MAX_OFFSET_SECONDS = 100 * 365.25 * 24 * 3600;
/** The longest delay setTimeout accepts (2^31-1 ms, 24.8 days); longer waits re-arm when it fires. */
export const TIMER_MAX_DELAY_MS = 2 ** 31 - 1;

// ---- Jobs v2 (docs/protocol.md §3.6, §5) -----------------------------------------------------------------

/**
 * EMULATOR CHOICE (docs/protocol.md §3.6): the Node SDK's promise form sends no maxExecutionTimeInSeconds
 * and the C# SDK omits a zero; both get the hour the Node SDK's callback form uses.
 */
export const JOB_DEFAULT_MAX_EXECUTION_SECONDS = 3600;
/** An Int32 in the service API (C# JobRequest.MaxExecutionTime is an int of seconds). */
export const JOB_MAX_EXECUTION_SECONDS = 2 ** 31 - 1;
/**
 * EMULATOR CHOICE: 1,000 method calls in flight per job. The real hub paces job device operations
 * at 10/s on S1 (docs/protocol.md §5.6); the emulator runs them as fast as the devices answer, bounded so a
 * 100,000-device job does not open 100,000 pending calls at once.
 */
export const JOB_DEFAULT_CONCURRENCY = 1000;
/** Twin patches a job applies per event-loop turn (one transaction each), leaving the loop free in between. */
export const JOB_TWIN_SLICE = 1000;
/** Device-job records read from SQLite per chunk while paging `devices.jobs`. */
export const JOB_RECORDS_READ_CHUNK = 1000;

// ---- The emulator's own API (/$emulator) -----------------------------------------------------

/** Server-sent events: a comment line this often keeps proxies from closing an idle stream. */
export const EVENT_STREAM_HEARTBEAT_MS = 15_000;
/** A reader this far behind is cut off rather than buffered without bound; it can resume with Last-Event-ID. */
export const EVENT_STREAM_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** How long a reset waits for the connections it closes to report their disconnection. */
export const RESET_DISCONNECT_WAIT_MS = 2000;

// ---- Throttling and faults (docs/protocol.md §6) ----------------------------------------------

/**
 * EMULATOR CHOICE (docs/protocol.md §6): with a tier set, a burst beyond a throttle's rate is
 * queued and answered late (traffic shaping) as long as it would wait at most this long; beyond
 * that the hub answers 429 ThrottlingException. The hub does not publish its backlog size.
 */
export const THROTTLE_BACKLOG_MS = 1000;

// ---- Dashboard (dashboard/server) -----------------------------------------------------------

/** Dashboard (dashboard/server): rows the devices table fetches in one page at most. */
/** The dashboard's plain-HTTP port unless --dashboard-port says otherwise (docs/protocol.md §15.1). */
export const DEFAULT_DASHBOARD_PORT = 8080;
export const DASHBOARD_MAX_PAGE_ROWS = 200;
/** Dashboard: rows a query page shows at most (the page says when there were more). */
export const DASHBOARD_MAX_QUERY_ROWS = 1000;
/** Dashboard: device-job results listed per job at most. */
export const DASHBOARD_MAX_JOB_DEVICE_ROWS = 500;
/** Dashboard: devices one live-update stream may watch (a page of the devices table and then some). */
export const DASHBOARD_MAX_WATCHED_DEVICES = 500;
/** Dashboard: how often the live-update stream flushes what changed, in ms (about a few display frames). */
export const DASHBOARD_FLUSH_INTERVAL_MS = 100;
/** Dashboard: recorded entries (telemetry, twin, method, connection) sent per watched device per flush at most. */
export const DASHBOARD_MAX_ENTRIES_PER_FLUSH = 50;
/** Dashboard: the hub page's time series, one sample a second, this many seconds back. */
export const DASHBOARD_SERIES_SECONDS = 300;
/** Dashboard: a stream whose reader is this far behind is closed (the page reconnects and reloads). */
export const DASHBOARD_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

// ---- AMQP (docs/protocol.md §10) -----------------------------------------------------------

/** Idle time-out the hub announces in its open frame (IoT Hub's value): clients heartbeat every 120 s. */
export const AMQP_IDLE_TIMEOUT_MS = 240_000;
/** Largest AMQP frame the hub accepts; bigger transfers arrive in several frames. */
export const AMQP_MAX_FRAME_SIZE = 65_536;
/** Delay before the redirect detach (docs/protocol.md §10.13): Microsoft's sample listens only once attached. */
export const AMQP_REDIRECT_DELAY_MS = 20;

// ---- Event Hubs-compatible endpoint (docs/protocol.md §10) ----------------------------

/** Partitions by default (IoT Hub's default for new hubs). */
export const EVENT_HUB_DEFAULT_PARTITIONS = 4;
/** IoT Hub allows up to 128 partitions. */
export const EVENT_HUB_MAX_PARTITIONS = 128;
/** Retention of the built-in endpoint (IoT Hub's default: 1 day). */
export const EVENT_HUB_DEFAULT_RETENTION_HOURS = 24;
/** EMULATOR CHOICE: size bound of the retained events over all partitions (an even share each). */
export const EVENT_HUB_DEFAULT_RETENTION_MB = 1024;
/** Receivers without an owner level per consumer group and partition (Event Hubs' limit). */
export const EVENT_HUB_MAX_RECEIVERS_PER_PARTITION = 5;

// ---- Cloud-to-device messages (docs/protocol.md §11) ---------------------------------------

/** Cloud-to-device messages (docs/protocol.md §11). */
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

// ---- Device store (docs/scaling.md §3.1) ---------------------------------------------------

/**
 * How often the checkpoint thread copies the WAL into the database file (store/checkpointer.ts),
 * and the WAL size (pages) at which the hub's own connection checkpoints instead, should that
 * thread fall behind (SQLite's automatic checkpoint; 16,000 pages of 4 KB = 64 MB).
 */
export const WAL_CHECKPOINT_INTERVAL_MS = 100;
export const WAL_BACKSTOP_CHECKPOINT_PAGES = 16_000;

/**
 * Parsed device records the hub keeps in memory by default (`--device-cache`): the rest are read
 * from SQLite when used. ~1.5–2 KB each with a small twin; connected devices stay in any case.
 */
export const DEVICE_CACHE_DEFAULT_RECORDS = 100_000;
/** Rows of the registry order (ids) read per event-loop turn while it loads after start. */
export const DEVICE_ORDER_LOAD_CHUNK_ROWS = 20_000;
/** Rows a registry scan reads from SQLite at a time (while that order is still loading). */
export const DEVICE_SCAN_CHUNK_ROWS = 512;
/**
 * The background build of declared query indexes (docs/scaling.md §3.2): how long one slice runs
 * before it yields to the event loop, and the rows it reads from SQLite per statement. A request
 * crosses the event loop several times (TLS, HTTP, the answer), each time behind at most one
 * slice: 8 ms slices put a GET /twins at ~45 ms during the build, so slices are short.
 */
export const QUERY_INDEX_BUILD_SLICE_MS = 2;
export const QUERY_INDEX_BUILD_SLICE_RECORDS = 256;
