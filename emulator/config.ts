import path from 'node:path';
import { DEFAULT_MAX_PENDING_CONNECTIONS, DEFAULT_MQTT_MAX_PACKET_BYTES, DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS } from './limits.js';
import { THROTTLE_BACKLOG_MS } from './limits.js';
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
  /** where the local CA lives; default <dataDir>/certs */
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
  /** an IoT Hub tier whose throttles and daily quota the hub applies (docs/protocol.md §6); off when undefined */
  tier?: TierName;
  /** units of that tier */
  units: number;
  /** how long a throttle queues work (traffic shaping) before it answers 429 ThrottlingException */
  throttleBacklogMs: number;
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
  units: 1,
  throttleBacklogMs: THROTTLE_BACKLOG_MS,
};

export function resolveHostName(options: Pick<HubOptions, 'host' | 'hostName'>): string {
  if (options.hostName) return options.hostName;
  return options.host === '127.0.0.1' || options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
}
