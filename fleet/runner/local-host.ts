import { hubAddress } from '../hub/hub-address.js';
import { fleetIdentities } from '../hub/registration.js';
import type { StatsSnapshot } from './fleet-stats.js';
import type { DeviceHost, FleetPart } from './device-host.js';
import { LocalFleet } from './local-fleet.js';

/** Devices in this very process. */
export class LocalHost implements DeviceHost {
  readonly pid = process.pid;
  readonly fleet: LocalFleet;

  constructor(part: FleetPart) {
    const hub = hubAddress(part.connectionString, part.ports);
    const identities = fleetIdentities(hub, part.prefix, part.total, part.range, part.modulesPerDevice ?? 0);
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
