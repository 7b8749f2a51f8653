import { parseHubConnectionString, type HubConnectionString } from '../../protocol/connection-string.js';
import { FleetError } from '../errors.js';

/** Where the hub is: the connection string, plus ports that differ from IoT Hub's (only the in-process demo needs that). */
export interface HubAddress extends HubConnectionString {
  readonly httpsPort: number;
  readonly mqttPort: number;
}

export function hubAddress(connectionString: string, ports?: { https?: number; mqtt?: number }): HubAddress {
  let parsed: HubConnectionString;
  try {
    parsed = parseHubConnectionString(connectionString);
  } catch (error) {
    throw new FleetError('config', `the hub connection string is not usable: ${(error as Error).message}`);
  }
  return { ...parsed, httpsPort: ports?.https ?? 443, mqttPort: ports?.mqtt ?? 8883 };
}
