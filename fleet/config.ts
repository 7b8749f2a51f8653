import type { Scenario } from './scenario/scenario.js';
import type { AutoShard, Shard } from './device-range.js';

export type EngineName = 'light' | 'sdk';
export const ENGINES: readonly EngineName[] = ['light', 'sdk'];

/** Everything one fleet run needs, resolved from flags, environment and the scenario file. */
export interface FleetConfig {
  /** hub connection string of a policy with RegistryWrite (iothubowner or registryReadWrite) */
  readonly connectionString: string;
  /** PEM of a CA to trust besides the system ones (the emulator's) */
  readonly ca?: string;
  /** ports other than IoT Hub's 443 and 8883 (only an in-process emulator on custom ports needs them) */
  readonly ports?: { readonly https?: number; readonly mqtt?: number };
  readonly engine: EngineName;
  /** size of the whole fleet; a shard simulates its part of it */
  readonly devices: number;
  /** module identities on each device (`{prefix}{n}` gets `module-1` … `module-N`), each a lockDoor of its own */
  readonly modulesPerDevice?: number;
  readonly prefix: string;
  readonly shard: Shard | AutoShard;
  /** child processes that hold the connections; 0 = this process */
  readonly workers: number;
  /** SAS token lifetime; devices renew theirs before it runs out */
  readonly tokenTtlSeconds: number;
  /** stop by itself after this long (ms); 0 = until Ctrl-C / SIGTERM */
  readonly durationMs: number;
  readonly scenario: Scenario;
}

export const DEFAULT_PREFIX = 'lockdoor-';
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
/** One process holds at most this many devices before the fleet adds a worker (ulimit -n is ~20,000 here). */
export const DEVICES_PER_WORKER = 15_000;

export function defaultWorkers(deviceCount: number): number {
  return Math.max(1, Math.ceil(deviceCount / DEVICES_PER_WORKER));
}
