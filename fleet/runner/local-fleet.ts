import { lockDoor } from '../devices/lock-door.js';
import type { EngineName } from '../config.js';
import { createEngine } from '../engines/create-engine.js';
import type { Engine } from '../engines/engine.js';
import type { HubAddress } from '../hub/hub-address.js';
import type { FleetIdentity } from '../hub/registration.js';
import type { Scenario } from '../scenario/scenario.js';
import { compileTemplate } from '../scenario/telemetry-template.js';
import { FleetStats } from './fleet-stats.js';
import { Pacer } from './pacer.js';
import { SimulatedDevice } from './simulated-device.js';

export interface LocalFleetOptions {
  readonly hub: HubAddress;
  readonly identities: readonly FleetIdentity[];
  readonly engine: EngineName;
  readonly scenario: Scenario;
  readonly tokenTtlSeconds: number;
  readonly ca?: string;
  /** this process's share of the fleet's connect rate and concurrency */
  readonly rate: number;
  readonly concurrency: number;
}

const STOP_CONCURRENCY = 500;

/** The devices one process holds: they share an engine, a pacer and the stats. */
export class LocalFleet {
  readonly stats = new FleetStats();
  readonly devices: readonly SimulatedDevice[];
  private readonly engine: Engine;
  private readonly pacer: Pacer;
  private stopping: Promise<void> | undefined;

  constructor(options: LocalFleetOptions) {
    this.engine = createEngine(options.engine, options.hub, { ca: options.ca, tokenTtlSeconds: options.tokenTtlSeconds });
    this.pacer = new Pacer(options.rate, options.concurrency);
    const runtime = {
      engine: this.engine,
      kind: lockDoor,
      scenario: options.scenario,
      stats: this.stats,
      pacer: this.pacer,
      telemetry: compileTemplate(options.scenario.telemetry.template),
    };
    this.devices = options.identities.map((identity) => new SimulatedDevice(identity, runtime));
    this.stats.counters.devices = this.devices.length;
    this.stats.counters.neverConnect = this.devices.filter((d) => d.neverConnects).length;
  }

  /** Resolves once every device has made its first attempt (the ramp is over). */
  async start(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.start()));
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // Every device first, so that attempts the pacer still holds end as stops, not as failures.
      const links = this.devices.map((d) => d.halt()).filter((l) => l !== undefined);
      this.pacer.close();
      // Disconnect in waves: thousands of simultaneous DISCONNECTs only queue up in the socket layer.
      let next = 0;
      const wave = async (): Promise<void> => {
        while (next < links.length) await links[next++].close().catch(() => {});
      };
      await Promise.all(Array.from({ length: STOP_CONCURRENCY }, wave));
      this.engine.close();
    })();
    return this.stopping;
  }
}
