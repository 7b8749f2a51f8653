import path from 'node:path';
import { DEFAULT_MAX_PENDING_CONNECTIONS, DEFAULT_MQTT_MAX_PACKET_BYTES, DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS } from './limits.js';
import { EVENT_HUB_DEFAULT_PARTITIONS, EVENT_HUB_DEFAULT_RETENTION_HOURS, EVENT_HUB_DEFAULT_RETENTION_MB } from './limits.js';
import { DEVICE_CACHE_DEFAULT_RECORDS, THROTTLE_BACKLOG_MS, c2dLimits } from './limits.js';
import type { QueryIndexBuild, QueryIndexBuildSlice } from './selection/twin-indexes.js';
import type { TierName } from './throttle/tiers.js';

export interface HubOptions {
  /** address the listeners bind to */
  host: string;
  /** the name connection strings carry (and the certificate covers); default: localhost for 127.0.0.1, else host */
  hostName?: string;
  httpsPort: number;
  mqttPort: number;
  /** plain-TCP MQTT for non-SDK tools; off when undefined */
  plainMqttPort?: number;
  dataDir: string;
  inMemory: boolean;
  /** where the local CA lives; default: certDir when given, else the user's (~/.iothub-emulator/ca, see tls/ca-location.ts) */
  caDir?: string;
  /** where the server certificate lives; default <dataDir>/certs */
  certDir?: string;
  /** extra DNS names or IPs for the server certificate */
  certNames: string[];
  logLevel: string;
  logFormat?: 'pretty' | 'json';
  /** concurrently active jobs allowed before 429 ThrottlingMaxActiveJobCountExceeded (a tier sets its own) */
  maxActiveJobs: number;
  /** largest MQTT packet (and MQTT-over-WebSocket frame) a device may send; emulator/limits.ts */
  mqttMaxPacketBytes: number;
  /** TLS handshake deadline on every TLS listener; emulator/limits.ts */
  tlsHandshakeTimeoutMs: number;
  /** connections per listener not authenticated yet, beyond which new ones are closed; emulator/limits.ts */
  maxPendingConnections: number;
  /** AMQP over TLS (5671; the SDKs cannot use another port) */
  amqpPort: number;
  /** plain AMQP (5672) for Event Hubs clients with UseDevelopmentEmulator=true; off when undefined */
  plainAmqpPort?: number;
  /** partitions of the Event Hubs-compatible endpoint */
  partitions: number;
  /** the Event Hubs-compatible name (EntityPath); default: the hub name (first label of hostName) */
  eventHubName?: string;
  /** how long the Event Hubs-compatible endpoint keeps events */
  retentionHours: number;
  /** how many megabytes of events it keeps, over all partitions */
  retentionMb: number;
  /** TTL of a cloud-to-device message sent without an expiry, seconds (IoT Hub's cloudToDevice.defaultTtlAsIso8601) */
  c2dDefaultTtlSeconds: number;
  /** deliveries before a C2D message is dead-lettered (IoT Hub's cloudToDevice.maxDeliveryCount) */
  c2dMaxDeliveryCount: number;
  /** an IoT Hub tier whose throttles and daily quota the hub applies (docs/protocol.md §6); off when undefined */
  tier?: TierName;
  /** units of that tier */
  units: number;
  /** how long a throttle queues work (traffic shaping) before it answers 429 ThrottlingException */
  throttleBacklogMs: number;
  /** parsed device records kept in memory (the rest are read from SQLite when used); docs/scaling.md §3.1 */
  deviceCacheSize: number;
  /** twin paths queries get an index on from the first query (docs/scaling.md §3.2), or 'off': every query scans */
  queryIndex: readonly string[] | 'off';
  /** queries that must name a path before it gets an index on demand; 0: only the declared ones */
  queryIndexAfter: number;
  /** when the declared indexes are built: in the background from start on, or by the first query (docs/scaling.md §3.2) */
  queryIndexBuild: QueryIndexBuild;
  /** the background build's slices (tests: small and slow, so a query meets the build); no flag */
  queryIndexBuildSlice?: QueryIndexBuildSlice;
}

export const defaultOptions: HubOptions = {
  host: '127.0.0.1',
  httpsPort: 443,
  mqttPort: 8883,
  dataDir: path.resolve('.iothub-emulator'),
  inMemory: false,
  certNames: [],
  logLevel: 'info',
  maxActiveJobs: 100,
  mqttMaxPacketBytes: DEFAULT_MQTT_MAX_PACKET_BYTES,
  tlsHandshakeTimeoutMs: DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
  maxPendingConnections: DEFAULT_MAX_PENDING_CONNECTIONS,
  amqpPort: 5671,
  partitions: EVENT_HUB_DEFAULT_PARTITIONS,
  retentionHours: EVENT_HUB_DEFAULT_RETENTION_HOURS,
  retentionMb: EVENT_HUB_DEFAULT_RETENTION_MB,
  c2dDefaultTtlSeconds: c2dLimits.defaultTtlMs / 1000,
  c2dMaxDeliveryCount: c2dLimits.maxDeliveryCount,
  units: 1,
  throttleBacklogMs: THROTTLE_BACKLOG_MS,
  deviceCacheSize: DEVICE_CACHE_DEFAULT_RECORDS,
  queryIndex: [],
  queryIndexAfter: 1,
  queryIndexBuild: 'background',
};

export function resolveHostName(options: Pick<HubOptions, 'host' | 'hostName'>): string {
  if (options.hostName) return options.hostName;
  return options.host === '127.0.0.1' || options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
}

/** The hub's name as Event Hubs clients see it (EntityPath): the first DNS label of the host name. */
export function resolveEventHubName(options: Pick<HubOptions, 'host' | 'hostName' | 'eventHubName'>): string {
  if (options.eventHubName) return options.eventHubName;
  const hostName = resolveHostName(options);
  // An IP address has no hub name in it.
  if (/^[\d.]+$/.test(hostName) || hostName.includes(':')) return 'iothub-emulator';
  return hostName.split('.')[0];
}
