import { createHmac } from 'node:crypto';
import type { HubAddress } from './hub-address.js';

export interface DeviceKeys {
  readonly primaryKey: string;
  readonly secondaryKey: string;
}

/**
 * A fleet device's keys are derived from the hub policy key and the device id. Every run, shard and
 * worker process computes the same keys without reading them back: the identity registry allows
 * only ~100 reads a minute per unit on a real S1 hub, which would make a 10,000-device restart take
 * over an hour. Only holders of the policy key can derive them.
 */
export function deriveDeviceKeys(hub: HubAddress, deviceId: string): DeviceKeys {
  const key = Buffer.from(hub.sharedAccessKey, 'base64');
  const derive = (which: string): string =>
    createHmac('sha256', key).update(`iothub-emulator-fleet\n${hub.hostName.toLowerCase()}\n${deviceId}\n${which}`).digest('base64');
  return { primaryKey: derive('primary'), secondaryKey: derive('secondary') };
}
