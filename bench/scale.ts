import iothub from 'azure-iothub';
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { wellKnownPolicies } from '../emulator/identity/policies.js';
import { createSasToken } from '../protocol/sas.js';
import { cpuSeconds } from './support/floor-compare.js';
import type { Bench, BenchRow } from './support/harness.js';
import { latencyUntil, type LatencySummary, sequentialLatency } from './support/latency.js';
import { closeAll, connectDevices, registerConnectingDevices, startOnDisk as startEmulatorOnDisk } from './support/mqtt-devices.js';
import { request } from './support/provision.js';
import { addDevicesInBulk, registrationFloor, scaleDeviceId } from './support/registration-floor.js';
import { measureTlsFloor, settle } from './support/tls-floor.js';

/** BENCH_SCALE_HOST: another loopback address, for a run beside another engineer's scale run. */
const HOST = process.env.BENCH_SCALE_HOST ?? '127.0.0.215';
/** Registered devices (each with a small twin: three tags, one desired property). */
const DEVICES = Number(process.env.SCALE_DEVICES ?? process.env.BENCH_SCALE_DEVICES ?? 100_000);
/** Devices that run connect, subscribe, twin GET and reported PATCH for the CPU-per-connection figure. */
const CONNECTS = Number(process.env.BENCH_SCALE_CONNECTS ?? 2_000); // 0: no connection rows
/** Connected-device counts whose mass disconnect is measured (the growth shows the trie's cost). */
const DISCONNECTS = (process.env.BENCH_SCALE_DISCONNECTS ?? '1000,2000,4000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const MILLION = 1_000_000;
const SAMPLES = Number(process.env.BENCH_SCALE_SAMPLES ?? 100);
const WARM_UP = Math.min(10, SAMPLES);
/** The emulator's --device-cache for the run (its default when unset). */
const DEVICE_CACHE = process.env.BENCH_SCALE_DEVICE_CACHE;
const owner = wellKnownPolicies[0]!;
const connectionString = `HostName=${HOST};SharedAccessKeyName=${owner.keyName};SharedAccessKey=${owner.primaryKey}`;

// tags.building has 100 values, tags.floor 20: the selective query matches DEVICES / 2000 twins.
const SELECTIVE = "SELECT * FROM devices WHERE tags.building = '42' AND tags.floor = 7";
const GROUPED = 'SELECT tags.building, COUNT() AS devices FROM devices GROUP BY tags.building';
/** The twin-update job's devices: the last 100,000 registered (all of them below 100,000). */
const JOB_DEVICES = Math.min(DEVICES, 100_000);
/** Declared at the restart (--query-index): the selective query's, GROUP BY's and the job condition's paths. */
const INDEXED = ['deviceId', 'tags.building', 'tags.floor'];
const id = scaleDeviceId;

/**
 * Issue 15's "Done means" in one run, over HTTPS with the real service SDK (docs/scaling.md §3.1.1):
 * bulk registration through Registry.addDevices, emulator memory per registered device, start to
 * ready on that data directory (and the first answers right after it), the query indexes declared
 * at start (`--query-index`): the first query sent at ready while they build in the background,
 * with twin reads beside it, then the same after a restart where the first query builds them
 * (`--query-index-build first-query`, the way before; the run goes on from that hub), a selective query and
 * `COUNT() … GROUP BY` through POST /devices/query, a twin-update job over 100,000 of the devices
 * scheduled with JobClient.scheduleTwinUpdate (startTime → completed), then CPU per MQTT/TLS
 * connection beside a bare-TLS floor and CPU for N disconnects (BENCH_SCALE_CONNECTS=0 skips
 * both). Every figure is measured at SCALE_DEVICES itself; at fewer than 1,000,000 the table adds
 * extrapolations to it, labelled so.
 */
export const bench: Bench = {
  name: 'scale',
  description: `${DEVICES.toLocaleString('en')} registered devices (on disk), load average ${loadAverage()} at start`,
  async run() {
    // The jobs select the last 1,000 and the last 100,000 ids by prefix.
    if (DEVICES % 1000 !== 0 || (DEVICES > 100_000 && DEVICES % 100_000 !== 0))
      throw new Error('SCALE_DEVICES: a multiple of 1,000 up to 100,000, of 100,000 above');
    const certDir = process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR!;
    const caPath = path.join(certDir, 'ca.pem');
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-bench-scale-'));
    const rows: BenchRow[] = [];
    const phase = (name: string): void => console.log(`  [${new Date().toISOString().slice(11, 19)}, load ${loadAverage()}] ${name}`);
    let emulator = await startOnDisk(dataDir, certDir);
    // The server certificate as the emulator just made it for HOST: the shared bench certificate
    // directory can be rewritten meanwhile by a bench on another address.
    const serverTls = { key: readFileSync(path.join(certDir, 'server-key.pem')), cert: readFileSync(path.join(certDir, 'server.pem')) };
    try {
      const emptyReadyMs = emulator.readyMs;
      await settle(emulator.pid);
      const emptyRss = rssKb(emulator.pid);
      const token = createSasToken(HOST, owner.primaryKey, Math.floor(Date.now() / 1000) + 7200, owner.keyName);

      // 1. Bulk registration through the service SDK, 100 per call (the hub's limit), 8 calls in flight.
      phase(`registering ${DEVICES} devices`);
      const registry = iothub.Registry.fromConnectionString(connectionString);
      const cpuBefore = cpuSeconds(emulator.pid);
      const t0 = performance.now();
      await addDevicesInBulk(registry, 0, DEVICES);
      const registerSeconds = (performance.now() - t0) / 1000;
      const registerCpuUs = ((cpuSeconds(emulator.pid) - cpuBefore) * 1e6) / DEVICES;
      const rate = DEVICES / registerSeconds;
      console.log(`  ${DEVICES} devices registered in ${registerSeconds.toFixed(1)} s`);
      await settle(emulator.pid);
      const registeredRss = rssKb(emulator.pid);

      // 2. Start to ready on that data directory: nothing is loaded (the device store reads SQLite on
      // demand); beside it the empty start, and what the previous store did before /health: read
      // and parse every record (also the floor under building the indexes, which reads them all).
      await emulator.stop();
      phase('the registration floor (a bare HTTPS server)');
      const { rate: floorRate } = await registrationFloor(HOST, serverTls, registry, DEVICES);
      console.log(`  the same registration answered by a bare HTTPS server: ${Math.round(floorRate)} devices/s`);
      const eagerLoadMs = eagerLoad(dataDir);
      // One agent per emulator process: a kept-alive socket to a stopped one would be reset.
      const backgroundAgent = new https.Agent({ keepAlive: true, maxSockets: 8 });

      // 3a. Restarted with the declared indexes built in the background (the default): the first
      // query sent right after ready waits for the build, while twin reads go on beside it.
      phase('restart (declared indexes built in the background)');
      emulator = await startOnDisk(dataDir, certDir, ['--query-index', INDEXED.join(',')]);
      const backgroundReadyMs = emulator.readyMs;
      const backgroundFirstAnswersMs = await firstAnswers(backgroundAgent, token);
      const background = await firstQueryBesideReads(backgroundAgent, token);
      console.log(
        `  background build: ready in ${(backgroundReadyMs / 1000).toFixed(2)} s, the first query answered ${(background.queryMs / 1000).toFixed(2)} s after it; ${background.reads.count} GET /twins meanwhile, p50 ${background.reads.p50.toFixed(2)} ms, max ${background.reads.max.toFixed(0)} ms`,
      );
      // The same reads once the build is done: their floor in this run.
      const readsAlone = await spreadReads(backgroundAgent, token, () => false, 200);
      await settle(emulator.pid);
      const backgroundRss = rssKb(emulator.pid);
      backgroundAgent.destroy();
      await emulator.stop();

      // 3b. The same restart with the indexes built by the first query (--query-index-build
      // first-query, the way before): that query reads and parses every record while the event
      // loop waits. The rest of the run goes on from this hub, as it did before the change.
      phase('restart (declared indexes built by the first query)');
      emulator = await startOnDisk(dataDir, certDir, ['--query-index', INDEXED.join(','), '--query-index-build', 'first-query']);
      const loadedReadyMs = emulator.readyMs;
      const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
      // Ready means answering: the first calls after /health 200 must already see every device.
      const firstAnswersMs = await firstAnswers(agent, token);
      await settle(emulator.pid);
      const loadedRss = rssKb(emulator.pid);
      console.log(
        `  restarted on ${DEVICES} devices: ready in ${(loadedReadyMs / 1000).toFixed(2)} s (eager load alone: ${(eagerLoadMs / 1000).toFixed(1)} s)`,
      );
      phase('first query (builds the declared indexes)');
      const firstQuery = await firstQueryBesideReads(agent, token);
      const buildMs = firstQuery.queryMs;
      console.log(
        `  first query (${INDEXED.length} indexes built by it): ${(buildMs / 1000).toFixed(2)} s; ${firstQuery.reads.count} GET /twins meanwhile, max ${firstQuery.reads.max.toFixed(0)} ms`,
      );
      // The first STARTSWITH on deviceId sorts the ids once (path-index.ts SortedValues); the jobs' conditions use it.
      const p0 = performance.now();
      const prefixCount = ((await query(agent, token, `SELECT * FROM devices WHERE STARTSWITH(deviceId, '${id(DEVICES - 1)}')`)) as unknown[]).length;
      const prefixSortMs = performance.now() - p0;
      if (prefixCount !== 1) throw new Error(`the prefix query found ${prefixCount} twins`);
      const selectiveCount = Math.min(100, Math.floor(DEVICES / 2000));
      await settle(emulator.pid);
      const indexedRss = rssKb(emulator.pid);
      phase('queries');
      const twinRead = await latency(() => request(HOST, token, 'GET', `/twins/${id(4242 % DEVICES)}?api-version=2021-04-12`, undefined, { agent }));
      const selective = await latency(() => query(agent, token, SELECTIVE));
      const grouped = await latency(() => query(agent, token, GROUPED));
      const groups = (await query(agent, token, GROUPED)) as { devices: number }[];
      if (groups.length !== Math.min(100, DEVICES) || groups.reduce((n, g) => n + g.devices, 0) !== DEVICES) throw new Error('GROUP BY miscounted');

      // 4. Twin-update jobs through the service SDK: 1,000 devices, then JOB_DEVICES of the N.
      phase('twin-update jobs');
      const jobClient = iothub.JobClient.fromConnectionString(connectionString);
      // The last devices registered (the first 100,000 are the ones the index build left cached).
      const small = await runJob(jobClient, 'scale-twin-1000', `STARTSWITH(deviceId, '${id(DEVICES - 1000).slice(0, 10)}')`, 1000);
      const jobCpuBefore = cpuSeconds(emulator.pid);
      const whole = await runJob(jobClient, 'scale-twin-100k', `STARTSWITH(deviceId, '${id(DEVICES - JOB_DEVICES).slice(0, 8)}')`, JOB_DEVICES);
      // The emulator's own CPU for that job (schedule, select, fan out, polling answered): on these
      // shared cores the wall-clock figure moves with the load, this much less.
      const jobCpu = cpuSeconds(emulator.pid) - jobCpuBefore;
      console.log(`  twin jobs: 1,000 in ${small.toFixed(2)} s, ${JOB_DEVICES} in ${whole.toFixed(2)} s`);
      agent.destroy();

      const perDeviceKb = (registeredRss - emptyRss) / DEVICES;
      const loadedPerDeviceKb = (loadedRss - emptyRss) / DEVICES;
      rows.push(
        {
          metric: `register ${DEVICES} devices (Registry.addDevices, 100 per call, 8 in flight)`,
          value: rate,
          unit: 'devices/s',
          target: '≥ 20000',
          baseline: floorRate,
          note: `${registerSeconds.toFixed(1)} s end to end; emulator CPU ${registerCpuUs.toFixed(0)} µs per device; baseline: the same calls answered by a bare HTTPS server (the SDK, TLS and HTTP alone)`,
        },
        {
          metric: 'emulator RSS per registered idle device (small twin)',
          value: perDeviceKb,
          unit: 'KB',
          target: '≤ 1.5',
          note: `(${mb(registeredRss)} − empty hub ${mb(emptyRss)}) / N, right after registration`,
        },
        {
          metric: 'emulator RSS per device after restart (nothing loaded)',
          value: loadedPerDeviceKb,
          unit: 'KB',
          target: '≤ 1.5',
          note: `(${mb(loadedRss)} − empty hub ${mb(emptyRss)}) / N`,
        },
        {
          metric: `start to ready (/health 200), ${DEVICES} devices on disk, declared indexes building in the background`,
          value: backgroundReadyMs / 1000,
          unit: 's',
          target: '≤ 5',
          baseline: emptyReadyMs / 1000,
          note: `baseline: the same start on an empty data directory; the first GET /statistics/devices and GET /twins right after it answered all ${DEVICES} in ${backgroundFirstAnswersMs.toFixed(0)} ms (${firstAnswersMs.toFixed(0)} ms with --query-index-build first-query, ready in ${(loadedReadyMs / 1000).toFixed(2)} s); the previous eager load (read and parse every record, in the bench process) took ${(eagerLoadMs / 1000).toFixed(1)} s on its own`,
        },
        {
          metric: `first query after the restart, sent at ready: ${INDEXED.length} declared indexes (${INDEXED.join(', ')}) built in the background, the query waiting for them`,
          value: background.queryMs / 1000,
          unit: 's',
          baseline: buildMs / 1000,
          note: `--query-index at start (--query-index-build background, the default); ready in ${(backgroundReadyMs / 1000).toFixed(2)} s; baseline: the same first query with --query-index-build first-query (built by that query: registry order + one pass reading and parsing every stored record), same run; reading and parsing every record alone (bench process) ${(eagerLoadMs / 1000).toFixed(1)} s; RSS per device once built ${((backgroundRss - emptyRss) / DEVICES).toFixed(2)} KB (${mb(backgroundRss)})`,
        },
        {
          metric: 'GET /twins/{id} (one at a time, records spread over the registry) while that first query waits for the background build',
          value: background.reads.p50,
          unit: 'ms',
          baseline: readsAlone.p50,
          note: `${background.reads.count} reads: p99 ${background.reads.p99.toFixed(1)} ms, max ${background.reads.max.toFixed(0)} ms; baseline: the same reads after the build (${readsAlone.count}: p99 ${readsAlone.p99.toFixed(1)} ms, max ${readsAlone.max.toFixed(0)} ms); with the build done by the first query instead, ${firstQuery.reads.count} reads beside it, the longest ${firstQuery.reads.max.toFixed(0)} ms (the event loop waited for the whole build)`,
        },
        {
          metric: `first query after the restart: ${INDEXED.length} declared indexes built by it (--query-index-build first-query, the way before)`,
          value: buildMs / 1000,
          unit: 's',
          baseline: eagerLoadMs / 1000,
          note: `registry order + one pass over every stored record; baseline: reading and parsing every record alone (bench process); the first STARTSWITH(deviceId) query after it (sorting the ids) ${prefixSortMs.toFixed(0)} ms; RSS per device after both ${((indexedRss - emptyRss) / DEVICES).toFixed(2)} KB (${mb(indexedRss)})`,
        },
        {
          metric: `selective query p50 (first page: ${selectiveCount} of the ${Math.floor(DEVICES / 2000)} matches among ${DEVICES}, indexed)`,
          value: selective.p50,
          unit: 'ms',
          target: '≤ 20',
          baseline: twinRead.p50,
          note: `p99 ${selective.p99.toFixed(1)} ms; POST /devices/query; baseline: GET /twins/{id} p50 on the same connection`,
        },
        {
          metric: `COUNT() … GROUP BY p50 (100 groups over ${DEVICES}, indexed)`,
          value: grouped.p50,
          unit: 'ms',
          target: '≤ 300',
          baseline: twinRead.p50,
          note: `p99 ${grouped.p99.toFixed(1)} ms; baseline: GET /twins/{id} p50`,
        },
        {
          metric: `twin-update job over ${JOB_DEVICES} of ${DEVICES} devices (JobClient.scheduleTwinUpdate), startTime → completed`,
          value: whole,
          unit: 's',
          target: JOB_DEVICES === 100_000 ? '≤ 5' : undefined,
          baseline: (small * JOB_DEVICES) / 1000,
          note: `baseline: the same job over 1,000 devices (${small.toFixed(2)} s) × ${JOB_DEVICES / 1000}; emulator CPU for the job (scheduling to completed, with the SDK's polling) ${jobCpu.toFixed(1)} s`,
        },
      );
      if (CONNECTS > 0) rows.push(...(await connections(emulator.pid, caPath, registry, token)));
      if (DEVICES < MILLION) rows.push(...extrapolations(rate, perDeviceKb, emptyReadyMs, backgroundReadyMs, twinRead.p50, selective.p50, grouped.p50));
      return rows;
    } finally {
      await emulator.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

/** CPU per MQTT/TLS connection beside a bare-TLS floor, then mass disconnects at growing N. */
async function connections(pid: number, caPath: string, registry: iothub.Registry, token: string): Promise<BenchRow[]> {
  await registerConnectingDevices(registry, Math.max(CONNECTS, ...DISCONNECTS));
  const floor = await measureTlsFloor(HOST, 8883, caPath, pid, CONNECTS);
  await settle(pid);
  const ca = readFileSync(caPath, 'utf8');
  const connectCpuBefore = cpuSeconds(pid);
  const c0 = performance.now();
  const sessionDevices = await connectDevices(HOST, ca, floor.session, CONNECTS, true);
  const connectSeconds = (performance.now() - c0) / 1000;
  const connectCpuMs = ((cpuSeconds(pid) - connectCpuBefore) * 1000) / CONNECTS;
  await closeAll(HOST, sessionDevices, pid, token);

  // Mass disconnects at growing N: subscribe as the SDK does (methods, twin responses, desired), then drop all.
  const disconnects: { n: number; cpuSeconds: number }[] = [];
  for (const n of DISCONNECTS) {
    const devices = await connectDevices(HOST, ca, floor.session, n, false);
    await settle(pid);
    disconnects.push({ n, cpuSeconds: await closeAll(HOST, devices, pid, token) });
    console.log(`  ${n} disconnects: ${disconnects.at(-1)!.cpuSeconds.toFixed(2)} s of emulator CPU`);
  }
  const rows: BenchRow[] = [
    {
      metric: `emulator CPU per MQTT/TLS connection (${CONNECTS}: connect, subscribe, twin GET, reported PATCH)`,
      value: connectCpuMs,
      unit: 'ms',
      target: '≤ 1.5×',
      baseline: floor.connectCpuMs,
      note: `baseline: a bare TLS handshake (resumed) to the same port, same run; ${Math.round(CONNECTS / connectSeconds)} connects/s with 100 in flight`,
    },
    ...disconnects.map(({ n, cpuSeconds: s }) => ({
      metric: `emulator CPU for ${n} disconnects`,
      value: s,
      unit: 's',
      baseline: (floor.closeCpuMs * n) / 1000,
      note: `${((s * 1e6) / n).toFixed(0)} µs per disconnect; baseline: closing ${n} bare TLS sockets (floor per socket × N)`,
    })),
  ];
  const fit = quadraticFit(disconnects);
  if (fit) {
    rows.push(
      {
        metric: 'EXTRAPOLATED emulator CPU for 10,000 disconnects',
        value: fit.a * 1e4 + fit.b * 1e8,
        unit: 's',
        target: '≤ 0.3',
        note: `a·N + b·N² fitted to the ${disconnects.length} points above (b = ${(fit.b * 1e9).toFixed(2)} ns per N²)`,
      },
      {
        metric: 'EXTRAPOLATED: emulator CPU for 1,000,000 disconnects',
        value: fit.a * MILLION + fit.b * MILLION * MILLION,
        unit: 's',
        note: 'a·N + b·N² fitted above; far beyond one process’s descriptors',
      },
    );
  }
  return rows;
}

/** Below 1,000,000 devices: the figures whose target is at 1,000,000, extrapolated, labelled so. */
function extrapolations(
  rate: number,
  perDeviceKb: number,
  emptyReadyMs: number,
  loadedReadyMs: number,
  roundTrip: number,
  selective: number,
  grouped: number,
): BenchRow[] {
  const scaleUp = MILLION / DEVICES;
  const x = `EXTRAPOLATION from ${DEVICES.toLocaleString('en')} (linear in N)`;
  return [
    { metric: 'EXTRAPOLATED: register 1,000,000 devices', value: MILLION / rate, unit: 's', target: '≤ 50', note: `${x}; the target is 20,000 devices/s` },
    {
      metric: 'EXTRAPOLATED: emulator RSS for 1,000,000 registered devices',
      value: (perDeviceKb * MILLION) / 1024 / 1024,
      unit: 'GB',
      target: '≤ 1.43',
      note: `${x}; 1.5 KB per device`,
    },
    {
      metric: 'EXTRAPOLATED: start to ready on 1,000,000 devices',
      value: (emptyReadyMs + Math.max(0, loadedReadyMs - emptyReadyMs) * scaleUp) / 1000,
      unit: 's',
      target: '≤ 5',
      note: `${x}: the empty start plus the time above it × 1,000,000/N`,
    },
    {
      metric: 'EXTRAPOLATED: selective query p50 over 1,000,000 (if it grew linearly)',
      value: roundTrip + Math.max(0, selective - roundTrip) * scaleUp,
      unit: 'ms',
      target: '≤ 20',
      note: `${x}: the round trip (GET /twins p50) plus the rest × 1,000,000/N; an indexed query grows with its matches, so this is an upper bound`,
    },
    {
      metric: 'EXTRAPOLATED: COUNT() … GROUP BY p50 over 1,000,000 (if it grew linearly)',
      value: roundTrip + Math.max(0, grouped - roundTrip) * scaleUp,
      unit: 'ms',
      target: '≤ 300',
      note: `${x}: the round trip plus the rest × 1,000,000/N; upper bound, as above`,
    },
  ];
}

/** a·N + b·N² through the measured points (least squares, two unknowns). */
function quadraticFit(points: { n: number; cpuSeconds: number }[]): { a: number; b: number } | undefined {
  if (points.length < 2) return undefined;
  let s11 = 0,
    s12 = 0,
    s22 = 0,
    t1 = 0,
    t2 = 0;
  for (const { n, cpuSeconds: y } of points) {
    s11 += n * n;
    s12 += n ** 3;
    s22 += n ** 4;
    t1 += n * y;
    t2 += n * n * y;
  }
  const det = s11 * s22 - s12 * s12;
  const a = (t1 * s22 - t2 * s12) / det;
  const b = (s11 * t2 - s12 * t1) / det;
  // Neither term can be negative: fall back to the one-term fit when noise makes one so.
  if (b < 0) return { a: t1 / s11, b: 0 };
  if (a < 0) return { a: 0, b: t2 / s22 };
  return { a, b };
}

/** A twin-update job scheduled through the service SDK, timed from its startTime to its endTime as the hub reports them. */
async function runJob(jobs: iothub.JobClient, jobId: string, queryCondition: string, expected: number): Promise<number> {
  await jobs.scheduleTwinUpdate(jobId, queryCondition, { etag: '*', properties: { desired: { firmware: jobId } } }, new Date(), 3600);
  for (;;) {
    const job = (await jobs.getJob(jobId)).jobStatus as {
      status: string;
      startTime: string;
      endTime?: string;
      deviceJobStatistics: { succeededCount: number };
    };
    if (['completed', 'failed', 'cancelled'].includes(job.status)) {
      if (job.deviceJobStatistics.succeededCount !== expected) throw new Error(`job ${jobId} ended ${job.status}: ${JSON.stringify(job.deviceJobStatistics)}`);
      return (Date.parse(job.endTime!) - Date.parse(job.startTime)) / 1000;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The first GET /statistics/devices and GET /twins after ready, checked to see every device; their time. */
async function firstAnswers(agent: https.Agent, token: string): Promise<number> {
  const f0 = performance.now();
  const stats = (await request(HOST, token, 'GET', '/statistics/devices?api-version=2021-04-12', undefined, { agent })) as { totalDeviceCount: number };
  const lastTwin = (await request(HOST, token, 'GET', `/twins/${id(DEVICES - 1)}?api-version=2021-04-12`, undefined, { agent })) as {
    tags?: { building?: string };
  };
  const ms = performance.now() - f0;
  if (stats.totalDeviceCount !== DEVICES || lastTwin.tags?.building !== String((DEVICES - 1) % 100))
    throw new Error(`right after ready the hub answered ${stats.totalDeviceCount} devices and ${JSON.stringify(lastTwin).slice(0, 200)}`);
  return ms;
}

/**
 * The selective query sent now (the first after a restart), with GET /twins/{id} sent one after
 * another beside it until it answers: the query's latency and the reads' (records spread over
 * the registry, most not cached).
 */
async function firstQueryBesideReads(agent: https.Agent, token: string): Promise<{ queryMs: number; reads: LatencySummary }> {
  let answered = false;
  const reads = spreadReads(agent, token, () => answered);
  const q0 = performance.now();
  const found = ((await query(agent, token, SELECTIVE)) as unknown[]).length;
  const queryMs = performance.now() - q0;
  answered = true;
  if (found !== Math.min(100, Math.floor(DEVICES / 2000))) throw new Error(`the selective query found ${found} twins`);
  return { queryMs, reads: await reads };
}

/** GET /twins/{id} one after another over ids spread across the registry (most not cached), until `stop()` or `limit` reads. */
function spreadReads(agent: https.Agent, token: string, stop: () => boolean, limit = Number.POSITIVE_INFINITY): Promise<LatencySummary> {
  return latencyUntil((i) => request(HOST, token, 'GET', `/twins/${id(((i + 1) * 7919) % DEVICES)}?api-version=2021-04-12`, undefined, { agent }), stop, limit);
}

function query(agent: https.Agent, token: string, sql: string): Promise<unknown> {
  return request(HOST, token, 'POST', '/devices/query?api-version=2021-04-12', { query: sql }, { agent });
}

function latency(op: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  return sequentialLatency(op, SAMPLES, WARM_UP);
}

const startOnDisk = (dataDir: string, certDir: string, args: string[] = []) =>
  startEmulatorOnDisk(HOST, dataDir, certDir, [...(DEVICE_CACHE ? ['--device-cache', DEVICE_CACHE] : []), ...args]);

function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
}

/** What the previous DeviceStore did at start, timed alone: read and parse every stored record. */
function eagerLoad(dataDir: string): number {
  const db = new Database(path.join(dataDir, 'hub.sqlite'), { readonly: true });
  try {
    const started = performance.now();
    const records = new Map<string, unknown>();
    for (const row of db.prepare('SELECT device_id, record FROM devices').raw().iterate() as Iterable<[string, string]>)
      records.set(row[0], JSON.parse(row[1]));
    return performance.now() - started;
  } finally {
    db.close();
  }
}

function rssKb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]);
}

function mb(kb: number): string {
  return `${(kb / 1024).toFixed(0)} MB`;
}
