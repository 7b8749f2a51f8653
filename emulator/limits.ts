/**
 * The bounds one client can push the emulator to, in one place (docs/protocol.md §Hardening).
 * Those a user may need to move have a flag and an environment variable (`start --help`); the
 * defaults are IoT Hub's own limits plus the protocol's overhead where the hub publishes one.
 */

/** IoT Hub's largest device-to-cloud message (spec §1.9, §6): properties and body together. */
export const D2C_MESSAGE_LIMIT_BYTES = 256 * 1024;

/**
 * The largest MQTT packet (its fixed header's remaining length) a device may send: the 256 KB
 * message plus room for the topic (device id, property bag) and the packet id. A larger one
 * closes the connection as soon as its fixed header arrives, before any of its body is buffered;
 * the same bound is the largest WebSocket frame on /$iothub/websocket.
 * Flag `--mqtt-max-packet-size`, environment IOTHUB_EMULATOR_MQTT_MAX_PACKET_SIZE.
 */
export const DEFAULT_MQTT_MAX_PACKET_BYTES = D2C_MESSAGE_LIMIT_BYTES + 8 * 1024;

/**
 * How long a TLS handshake may take from the TCP accept, on every TLS listener (MQTT 8883,
 * HTTPS/WebSocket 443, AMQP when it lands). Node's own default is 120 s, and it only reports the
 * timeout: the socket stays open unless the listener closes it (see net/pending-connections.ts).
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

/** Time from TLS to a CONNECT packet on MQTT listeners (aedes' connectTimeout). */
export const MQTT_CONNECT_TIMEOUT_MS = 30_000;

/**
 * The largest REST request body on every route (express and the direct-method route alike):
 * room for a 100-device bulk registry body; per-API payload limits are checked by the services.
 * A larger body is answered 413 MessageTooLarge as soon as it is known (Content-Length, or the
 * byte that crosses it) and the connection is closed rather than read to its end.
 */
export const REST_BODY_LIMIT_BYTES = 1024 * 1024;

/** Node's HTTP parser limit on the request line and headers together (its default, 16 KB). */
export const REST_MAX_HEADER_BYTES = 16 * 1024;

/**
 * Direct-method names (spec §3.4, IoT Hub's direct-method guide): US-ASCII printable characters
 * except the HTTP separators `$ ( ) < > @ , ; : \ " / [ ] ? = { }`, space and tab, plus MQTT's
 * wildcards `#` and `+` (the name becomes a topic level). EMULATOR CHOICE: at most 128 characters.
 */
export const METHOD_NAME_MAX_LENGTH = 128;
