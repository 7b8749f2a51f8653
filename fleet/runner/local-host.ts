import { deriveDeviceKeys } from '../hub/device-keys.js';
import { hubAddress } from '../hub/hub-address.js';
import type { FleetIdentity } from '../hub/registration.js';
import { deviceId } from '../device-range.js';
import type { StatsSnapshot } from './fleet-stats.js';
import type { DeviceHost, FleetPart } from './device-host.js';
import { LocalFleet } from './local-fleet.js';

/** Devices in this very process. */
export class LocalHost implements DeviceHost {
  readonly pid = process.pid;
  readonly fleet: LocalFleet;

  constructor(part: FleetPart) {
    const hub = hubAddress(part.connectionString, part.ports);
    const identities: FleetIdentity[] = [];
    for (let index = part.range.start; index < part.range.end; index++) {
      const id = deviceId(part.prefix, index, part.total);
      identities.push({ index, deviceId: id, keys: deriveDeviceKeys(hub, id) });
    }
    this.fleet = new LocalFleet({
      hub,
      identities,
      engine: part.engine,
      scenario: part.scenario,
      tokenTtlSeconds: part.tokenTtlSeconds,
      ca: part.ca,
      rate: part.rate,
      concurrency: part.concurrency,
    });
  }

  start(): Promise<void> {
    return this.fleet.start();
  }

  snapshot(): StatsSnapshot {
    return this.fleet.stats.snapshot(true);
  }

  async stop(): Promise<StatsSnapshot> {
    await this.fleet.stop();
    return this.snapshot();
  }
}
