import https from 'node:https';
import { wellKnownPolicies } from '../emulator/identity/policies.js';
import { createSasToken } from '../protocol/sas.js';
import { startEmulatorProcess } from './support/emulator-process.js';
import { request } from './support/provision.js';
import { sequentialLatency } from './support/latency.js';
import type { Bench, BenchRow } from './support/harness.js';

// Another loopback address may be given when a second checkout benchmarks on the same machine.
const HOST = process.env.IOTHUB_EMULATOR_BENCH_QUERY_HOST ?? '127.0.0.203';
const TWINS = Number(process.env.BENCH_QUERY_TWINS ?? 100_000);
const SAMPLES = 300;
const WARM_UP = 30;
/** The scans cost 100–1,000× more: fewer samples keep the bench short. */
const SCAN_SAMPLES = 40;
const owner = wellKnownPolicies[0];
/** Module twins: 10 on each of the first MODULE_TWINS / 10 devices. */
const MODULE_TWINS = Number(process.env.BENCH_QUERY_MODULE_TWINS ?? TWINS);
const MODULES_PER_DEVICE = 10;
// Module ids repeat every 2,000 modules, so this scan matches MODULE_TWINS / 2000 (50 of 100,000).
const MODULE_SELECTIVE = "SELECT * FROM devices.modules WHERE moduleId = 'mod-42'";
// 10 of the 100 buildings: a configuration targeting a tenth of the twins (10,000 of 100,000).
const CONFIG_TARGET = `tags.building IN [${Array.from({ length: 10 }, (_, i) => `'${i}'`).join(', ')}]`;

// 100 buildings × 20 floors: the selective query below matches TWINS / 2000 twins (50 of 100,000).
const SELECTIVE = "SELECT * FROM devices WHERE tags.building = '42' AND tags.floor = 7";
const GROUPED = 'SELECT tags.building, COUNT() AS devices FROM devices GROUP BY tags.building';
// The same answers through the scan, in the same run: an OR with a term no index can answer
// (no id ends with '~', which ids cannot hold) forces one, as does a WHERE of NOT (docs/scaling.md §3.2).
const SELECTIVE_SCAN = "SELECT * FROM devices WHERE (tags.building = '42' AND tags.floor = 7) OR ENDSWITH(deviceId, '~')";
const GROUPED_SCAN = "SELECT tags.building, COUNT() AS devices FROM devices WHERE NOT ENDSWITH(deviceId, '~') GROUP BY tags.building";
const MODULE_SELECTIVE_SCAN = "SELECT * FROM devices.modules WHERE moduleId = 'mod-42' OR ENDSWITH(deviceId, '~')";
// Ten ids: read through the registry's id index instead of a scan.
const BY_ID = `SELECT * FROM devices WHERE deviceId IN [${Array.from({ length: 10 }, (_, i) => `'bench-q-${String(i * 997).padStart(6, '0')}'`).join(', ')}]`;

/**
 * POST /devices/query over 100,000 registered twins (the emulator keeps them in memory and
 * queries compiled predicates over cached twin views, never parsing JSON from disk; the WHERE's
 * indexed paths narrow the twins evaluated, docs/scaling.md §3.2). Latency is
 * per HTTPS request, sequential, over a keep-alive connection; the baseline is GET /twins/{id}
 * on the same connection — the cost of the round trip itself.
 */
export const bench: Bench = {
  name: 'query',
  description: `twin queries over ${TWINS.toLocaleString('en')} twins`,
  async run() {
    const certDir = process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR!;
    const emulator = await startEmulatorProcess(HOST, certDir);
    const token = createSasToken(HOST, owner.primaryKey, Math.floor(Date.now() / 1000) + 7200, owner.keyName);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
    try {
      const t0 = performance.now();
      await register(agent, token);
      console.log(`  ${TWINS} twins registered in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

      const first = performance.now();
      const cold = await query(agent, token, SELECTIVE);
      const coldMs = performance.now() - first;
      if (cold.length !== Math.floor(TWINS / 2000)) throw new Error(`the selective query returned ${cold.length} twins`);
      const groups = await query(agent, token, GROUPED);
      if (groups.length !== Math.min(100, TWINS)) throw new Error(`the grouped query returned ${groups.length} groups`);

      const twinRead = await latency(() => call(agent, token, 'GET', `/twins/bench-q-${String(4242 % TWINS).padStart(6, '0')}?api-version=2021-04-12`));
      const selective = await latency(() => query(agent, token, SELECTIVE));
      const grouped = await latency(() => query(agent, token, GROUPED));
      const byId = await latency(() => query(agent, token, BY_ID));
      const selectiveScan = await latency(() => query(agent, token, SELECTIVE_SCAN), SCAN_SAMPLES);
      const groupedScan = await latency(() => query(agent, token, GROUPED_SCAN), SCAN_SAMPLES);
      const t1 = performance.now();
      await registerModules(agent, token);
      console.log(`  ${MODULE_TWINS} module twins registered in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
      const moduleCold = await query(agent, token, MODULE_SELECTIVE);
      if (moduleCold.length !== Math.floor(MODULE_TWINS / 2000)) throw new Error(`the module query returned ${moduleCold.length} twins`);
      const moduleTwinRead = await latency(() =>
        call(agent, token, 'GET', `/twins/bench-q-${String(42).padStart(6, '0')}/modules/mod-420?api-version=2021-04-12`),
      );
      const moduleSelective = await latency(() => query(agent, token, MODULE_SELECTIVE));
      const moduleSelectiveScan = await latency(() => query(agent, token, MODULE_SELECTIVE_SCAN), SCAN_SAMPLES);
      const deviceSelectiveSameRun = await latency(() => query(agent, token, SELECTIVE));

      // A configuration over 10,000 of the device twins: PUT answers once its content is applied.
      const conditionQuery = await latency(() => query(agent, token, `SELECT COUNT() AS n FROM devices WHERE ${CONFIG_TARGET}`));
      const t2 = performance.now();
      const configuration = (await call(agent, token, 'PUT', '/configurations/bench-config?api-version=2021-04-12', {
        id: 'bench-config',
        content: { deviceContent: { 'properties.desired.lock': { autoLockSeconds: 30, chime: true } } },
        targetCondition: CONFIG_TARGET,
        priority: 1,
      })) as { systemMetrics: { results: { targetedCount: number; appliedCount: number } } };
      const applyMs = performance.now() - t2;
      const { targetedCount, appliedCount } = configuration.systemMetrics.results;
      if (targetedCount !== TWINS / 10 || appliedCount !== TWINS / 10)
        throw new Error(`the configuration targeted ${targetedCount} and applied ${appliedCount}`);

      const rows: BenchRow[] = [
        {
          metric: `FROM devices.modules selective p50 (${moduleCold.length} of ${MODULE_TWINS} module twins)`,
          value: moduleSelective.p50,
          unit: 'ms',
          target: '≤ 20',
          baseline: deviceSelectiveSameRun.p50,
          note: `p99 ${moduleSelective.p99.toFixed(1)} ms; baseline: the device selective query p50 right after; GET a module twin p50 ${moduleTwinRead.p50.toFixed(2)} ms; the same query by scan p50 ${moduleSelectiveScan.p50.toFixed(1)} ms`,
        },
        {
          metric: `configuration applied to ${appliedCount} of ${TWINS} twins`,
          value: applyMs,
          unit: 'ms',
          target: '≤ 2000',
          baseline: conditionQuery.p50,
          note: 'PUT /configurations/{id} answered after writing every targeted twin; baseline: its target condition as a COUNT() query p50',
        },
        {
          metric: `selective query p50 (${cold.length} of ${TWINS} twins)`,
          value: selective.p50,
          unit: 'ms',
          target: '≤ 20',
          baseline: twinRead.p50,
          note: `p99 ${selective.p99.toFixed(1)} ms; baseline: GET /twins/{id} p50`,
        },
        {
          metric: `selective query p50, by scan (same answer, same run)`,
          value: selectiveScan.p50,
          unit: 'ms',
          baseline: selective.p50,
          note: `p99 ${selectiveScan.p99.toFixed(1)} ms; baseline: the indexed query above`,
        },
        {
          metric: `COUNT() … GROUP BY p50 (${groups.length} groups)`,
          value: grouped.p50,
          unit: 'ms',
          target: '≤ 100',
          baseline: twinRead.p50,
          note: `p99 ${grouped.p99.toFixed(1)} ms; baseline: GET /twins/{id} p50`,
        },
        {
          metric: 'COUNT() … GROUP BY p50, by scan (same answer, same run)',
          value: groupedScan.p50,
          unit: 'ms',
          baseline: grouped.p50,
          note: `p99 ${groupedScan.p99.toFixed(1)} ms; baseline: the indexed query above`,
        },
        {
          metric: 'deviceId IN [10 ids] p50',
          value: byId.p50,
          unit: 'ms',
          baseline: twinRead.p50,
          note: `p99 ${byId.p99.toFixed(1)} ms; through the id index, no scan`,
        },
        { metric: 'first query after registration (cold twin views)', value: coldMs, unit: 'ms', note: 'builds the cached view of every twin once' },
      ];
      return rows;
    } finally {
      agent.destroy();
      await emulator.stop();
    }
  },
};

async function register(agent: https.Agent, token: string): Promise<void> {
  const batches: unknown[][] = [];
  for (let i = 0; i < TWINS; i += 100) {
    batches.push(
      Array.from({ length: Math.min(100, TWINS - i) }, (_, j) => {
        const n = i + j;
        return {
          id: `bench-q-${String(n).padStart(6, '0')}`,
          importMode: 'create',
          tags: { building: String(n % 100), floor: Math.floor(n / 100) % 20, model: ['lock-a', 'lock-b', 'lock-c'][n % 3] },
          properties: { desired: { mode: n % 2 === 0 ? 'day' : 'night' } },
        };
      }),
    );
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < batches.length) await call(agent, token, 'POST', '/devices?api-version=2021-04-12', batches[next++]);
    }),
  );
}

async function registerModules(agent: https.Agent, token: string): Promise<void> {
  const puts: string[] = [];
  for (let n = 0; n < MODULE_TWINS; n++) {
    const deviceId = `bench-q-${String(Math.floor(n / MODULES_PER_DEVICE)).padStart(6, '0')}`;
    puts.push(`/devices/${deviceId}/modules/mod-${n % 2000}?api-version=2021-04-12`);
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < puts.length) await call(agent, token, 'PUT', puts[next++], {});
    }),
  );
}

function query(agent: https.Agent, token: string, sql: string): Promise<unknown[]> {
  return call(agent, token, 'POST', '/devices/query?api-version=2021-04-12', { query: sql }) as Promise<unknown[]>;
}

function latency(op: () => Promise<unknown>, samples = SAMPLES): Promise<{ p50: number; p99: number }> {
  return sequentialLatency(op, samples, Math.min(WARM_UP, samples));
}

function call(agent: https.Agent, token: string, method: string, urlPath: string, body?: unknown): Promise<unknown> {
  return request(HOST, token, method, urlPath, body, { agent });
}
