import path from 'node:path';

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
  /** concurrently active jobs allowed before 429 ThrottlingMaxActiveJobCountExceeded */
  maxActiveJobs: number;
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
};

export function resolveHostName(options: Pick<HubOptions, 'host' | 'hostName'>): string {
  if (options.hostName) return options.hostName;
  return options.host === '127.0.0.1' || options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
}
