import type { EngineName } from '../config.js';
import type { IndexRange } from '../device-range.js';
import type { Scenario } from '../scenario/scenario.js';
import type { StatsSnapshot } from './fleet-stats.js';

/** One process's share of a fleet, in a form that crosses a process boundary. */
export interface FleetPart {
  readonly connectionString: string;
  readonly ports?: { readonly https?: number; readonly mqtt?: number };
  readonly ca?: string;
  readonly engine: EngineName;
  readonly prefix: string;
  /** size of the whole fleet (it fixes the id width) */
  readonly total: number;
  readonly range: IndexRange;
  /** module identities on each device, simulated beside it */
  readonly modulesPerDevice?: number;
  readonly scenario: Scenario;
  readonly tokenTtlSeconds: number;
  readonly rate: number;
  readonly concurrency: number;
}

/** A place devices live: this process, or a worker process. */
export interface DeviceHost {
  readonly pid: number;
  /** resolves once each of its devices has made a first attempt */
  start(): Promise<void>;
  snapshot(): StatsSnapshot;
  stop(): Promise<StatsSnapshot>;
}

export type ToWorker = { type: 'start'; part: FleetPart } | { type: 'stop' };

export type FromWorker =
  | { type: 'stats'; snapshot: StatsSnapshot }
  | { type: 'started' }
  | { type: 'stopped'; snapshot: StatsSnapshot }
  | { type: 'failed'; message: string };
