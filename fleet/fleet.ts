import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FleetConfig } from './config.js';
import { deviceId, rangeSize, shardRange, splitRange, type IndexRange, type Shard } from './device-range.js';
import { LightEngine } from './engines/light-engine.js';
import { hubAddress } from './hub/hub-address.js';
import { registerDevices, registerModules } from './hub/registration.js';
import { ServiceClient } from './hub/service-client.js';
import { claimFixedShard, claimShard, type ShardLease } from './hub/shard-lease.js';
import { buildReport, type FleetReport } from './report.js';
import type { DeviceHost, FleetPart } from './runner/device-host.js';
import { mergeSnapshots, type MergedStats } from './runner/fleet-stats.js';
import { LocalHost } from './runner/local-host.js';
import { WorkerHost } from './runner/worker-host.js';

export interface FleetHooks {
  onShardClaimed?(shard: Shard): void;
  onRegistered?(registered: number, total: number): void;
}

export interface RunningFleet {
  readonly config: FleetConfig;
  /** the shard simulated (the one claimed, for auto/n) */
  readonly shard: Shard;
  /** the device indices this fleet (shard) simulates */
  readonly range: IndexRange;
  readonly hosts: readonly DeviceHost[];
  /** resolves, with how long it took (ms), once every device has made its first connection attempt */
  readonly ramped: Promise<number>;
  stats(): MergedStats;
  /** disconnects every device and returns the final report */
  stop(): Promise<FleetReport>;
}

/** Registers this shard's devices, then connects them in this process or in worker processes. */
export async function startFleet(config: FleetConfig, hooks: FleetHooks = {}): Promise<RunningFleet> {
  const hub = hubAddress(config.connectionString, config.ports);
  const client = new ServiceClient(hub, config.ca);
  let lease: ShardLease | undefined;
  let shard: Shard;
  let range: IndexRange;
  try {
    const leaseEngine = new LightEngine(hub, { ca: config.ca, tokenTtlSeconds: config.tokenTtlSeconds });
    const holder = `${os.hostname()}:${process.pid}`;
    if (config.shard.index === 'auto') {
      lease = await claimShard(client, hub, leaseEngine, config.prefix, config.shard.count, holder);
      hooks.onShardClaimed?.(lease.shard);
      shard = lease.shard;
    } else {
      shard = config.shard;
      const r = shardRange(config.devices, shard);
      const ids = `${deviceId(config.prefix, r.start, config.devices)} … ${deviceId(config.prefix, r.end - 1, config.devices)}`;
      lease = await claimFixedShard(client, hub, leaseEngine, config.prefix, shard, holder, ids);
    }
    range = shardRange(config.devices, shard);
    await registerDevices(client, hub, config.prefix, config.devices, range, (done) => hooks.onRegistered?.(done, rangeSize(range)));
    if (config.modulesPerDevice) await registerModules(client, hub, config.prefix, config.devices, range, config.modulesPerDevice);
  } catch (error) {
    await lease?.release();
    throw error;
  } finally {
    client.close();
  }

  const startedAt = new Date();
  const hostCount = Math.max(1, config.workers);
  const { rate, concurrency } = pace(config, rangeSize(range), hostCount);
  const part = (r: IndexRange): FleetPart => ({
    connectionString: config.connectionString,
    ports: config.ports,
    ca: config.ca,
    engine: config.engine,
    prefix: config.prefix,
    total: config.devices,
    range: r,
    modulesPerDevice: config.modulesPerDevice,
    scenario: config.scenario,
    tokenTtlSeconds: config.tokenTtlSeconds,
    rate,
    concurrency,
  });
  let trust: WorkerTrust | undefined;
  let hosts: DeviceHost[];
  if (config.workers === 0) {
    hosts = [new LocalHost(part(range))];
  } else {
    trust = workerTrust(config.ca);
    hosts = splitRange(range, hostCount).map((r) => new WorkerHost({ ...part(r), ca: trust!.ca }, trust!.env));
  }
  const began = performance.now();
  const ramped = Promise.all(hosts.map((h) => h.start())).then(() => performance.now() - began);
  let rampMs: number | undefined;
  ramped.then((ms) => (rampMs = ms)).catch(() => {});

  const stats = (): MergedStats => mergeSnapshots(hosts.map((h) => h.snapshot()));
  let stopping: Promise<FleetReport> | undefined;
  return {
    config,
    shard,
    range,
    hosts,
    ramped,
    stats,
    stop() {
      stopping ??= (async () => {
        const connectedAtStop = stats().counters.connected;
        const finals = await Promise.all(hosts.map((h) => h.stop()));
        trust?.remove();
        await lease?.release();
        return buildReport(config, shard, range, mergeSnapshots(finals), connectedAtStop, { startedAt, stoppedAt: new Date(), rampMs });
      })();
      return stopping;
    },
  };
}

/** Each process gets its share of the connect rate and concurrency; a ramp becomes a rate. */
function pace(config: FleetConfig, devices: number, hosts: number): { rate: number; concurrency: number } {
  const { rate, concurrency, ramp } = config.scenario.connect;
  const fleetRate = ramp > 0 ? devices / (ramp / 1000) : rate;
  return { rate: fleetRate > 0 ? fleetRate / hosts : 0, concurrency: Math.max(1, Math.ceil(concurrency / hosts)) };
}

interface WorkerTrust {
  readonly env: NodeJS.ProcessEnv;
  /** what workers still pass per connection (nothing once the CA is in NODE_EXTRA_CA_CERTS) */
  readonly ca?: string;
  remove(): void;
}

/**
 * Workers trust the extra CA through NODE_EXTRA_CA_CERTS, read once at start, instead of a `ca`
 * option: the SDK engine would otherwise build a TLS context from ~140 roots per connection.
 */
function workerTrust(ca: string | undefined): WorkerTrust {
  if (!ca) return { env: process.env, remove: () => {} };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iothub-fleet-ca-'));
  const file = path.join(dir, 'ca.pem');
  let existing = '';
  try {
    existing = process.env.NODE_EXTRA_CA_CERTS ? readFileSync(process.env.NODE_EXTRA_CA_CERTS, 'utf8') : '';
  } catch {
    // an unreadable NODE_EXTRA_CA_CERTS is Node's warning to give, not ours
  }
  writeFileSync(file, `${existing.trim()}\n${ca.trim()}\n`);
  return { env: { ...process.env, NODE_EXTRA_CA_CERTS: file }, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
