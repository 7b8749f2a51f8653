import hdr from 'hdr-histogram-js';
import { DeviceChannels } from '../emulator/device-channels.js';
import { HubEvents } from '../emulator/events.js';
import type { DeviceRecord } from '../emulator/identity/device-record.js';
import type { ModuleRecord } from '../emulator/identity/module-record.js';
import { RegistryService } from '../emulator/identity/registry-service.js';
import { parseQuery, type Query } from '../emulator/query/index.js';
import { DeviceSelection } from '../emulator/selection/device-selection.js';
import { openDatabase } from '../emulator/store/database.js';
import { DeviceStore } from '../emulator/store/device-store.js';
import { ModuleStore } from '../emulator/store/module-store.js';
import type { Bench, BenchRow } from './support/harness.js';

// Issue 15's query figures (and issue 11's module-twin one) at full size, in process: the real
// DeviceStore and ModuleStore (in-memory SQLite, records written through as always) filled
// through RegistryService's own record builders, and DeviceSelection — what POST /devices/query,
// jobs and configurations call — once with indexes (docs/scaling.md §3.2) and once with them off
// (`--query-index off`: the scan), over the same store in the same run. No HTTPS round trip: that
// is measured beside the twin read in `npm run bench -- query` (≈ 0.5–1 ms here).
const DEVICES = Number(process.env.BENCH_QUERY_INDEX_DEVICES ?? 1_000_000);
const MODULE_TWINS = Number(process.env.BENCH_QUERY_INDEX_MODULES ?? 100_000);
const MODULES_PER_DEVICE = 10;
const INDEX_SAMPLES = 200;
const SCAN_SAMPLES = Number(process.env.BENCH_QUERY_INDEX_SCAN_SAMPLES ?? 7);

// 100 buildings × 20 floors: matches DEVICES / 2000 twins (500 of 1,000,000).
const SELECTIVE = "SELECT * FROM devices WHERE tags.building = '42' AND tags.floor = 7";
const GROUPED = 'SELECT tags.building, COUNT() AS devices FROM devices GROUP BY tags.building';
// Module ids repeat every 2,000 modules: matches MODULE_TWINS / 2000 (50 of 100,000).
const MODULE_SELECTIVE = "SELECT * FROM devices.modules WHERE moduleId = 'mod-42'";
// A job condition over 1 % of the twins (10,000 of 1,000,000): DeviceSelection.select, as the scheduler calls it.
const JOB_CONDITION = "SELECT * FROM devices WHERE tags.building = '7'";

export const bench: Bench = {
  name: 'query-index',
  description: `query indexes vs the scan over ${DEVICES.toLocaleString('en')} twins and ${MODULE_TWINS.toLocaleString('en')} module twins (in process)`,
  async run() {
    const db = openDatabase({ dataDir: '', inMemory: true });
    const modules = new ModuleStore(db);
    const store = new DeviceStore(db, modules);
    const registry = new RegistryService(store, modules, new DeviceChannels(), new HubEvents());
    const t0 = performance.now();
    fill(registry, store, modules);
    console.log(`  ${DEVICES} twins and ${MODULE_TWINS} module twins stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // Twin writes before anything listens to the store (the second of two runs, warm).
    writeCost(store);
    const plainWrite = writeCost(store);

    const indexed = new DeviceSelection(store, modules);
    const scanning = new DeviceSelection(store, modules, { enabled: false, declared: [], after: 0 });
    const selective = parseQuery(SELECTIVE);
    const grouped = parseQuery(GROUPED);
    const moduleSelective = parseQuery(MODULE_SELECTIVE);
    const job = parseQuery(JOB_CONDITION);

    // A first scan (it builds and caches every twin view, and pays for the garbage of filling).
    const s0 = performance.now();
    page(scanning, selective);
    const firstScanMs = performance.now() - s0;
    // The first indexed query builds the order and its paths' indexes from the store (once).
    const b0 = performance.now();
    const first = page(indexed, selective);
    const buildMs = performance.now() - b0;
    if (first.length !== Math.min(100, Math.floor(DEVICES / 2000))) throw new Error(`the selective query returned ${first.length} twins`);
    const b1 = performance.now();
    page(indexed, grouped);
    const groupBuildMs = performance.now() - b1;
    const b2 = performance.now();
    page(indexed, moduleSelective);
    const moduleBuildMs = performance.now() - b2;
    indexed.select(job);
    console.log(`  indexes built on first use: ${indexed.indexedPaths().devices.join(', ')}; modules: ${indexed.indexedPaths().modules.join(', ')}`);

    // Same answers, or the figures mean nothing.
    for (const query of [selective, grouped, moduleSelective]) {
      if (JSON.stringify(page(indexed, query)) !== JSON.stringify(page(scanning, query))) throw new Error(`index and scan disagree on ${query.text}`);
    }
    if (JSON.stringify(indexed.select(job)) !== JSON.stringify(scanning.select(job))) throw new Error('index and scan disagree on the job condition');

    const sel = latency(() => page(indexed, selective), INDEX_SAMPLES);
    const selScan = latency(() => page(scanning, selective), SCAN_SAMPLES);
    const grp = latency(() => page(indexed, grouped), INDEX_SAMPLES);
    const grpScan = latency(() => page(scanning, grouped), SCAN_SAMPLES);
    const mod = latency(() => page(indexed, moduleSelective), INDEX_SAMPLES);
    const modScan = latency(() => page(scanning, moduleSelective), SCAN_SAMPLES * 3);
    const jobSel = latency(() => indexed.select(job), 30);
    const jobScan = latency(() => scanning.select(job), SCAN_SAMPLES);
    // The cost an index adds to every twin write: a tag change moved between two values of indexed paths.
    const indexCount = indexed.indexedPaths().devices.length;
    writeCost(store);
    const indexedWrite = writeCost(store);
    db.close();

    const scanNote = (s: { p50: number; n: number }) => `baseline: the scan (--query-index off), same store, same run, p50 of ${s.n}`;
    const rows: BenchRow[] = [
      {
        metric: `selective query p50 (${first.length} of ${DEVICES} twins, index)`,
        value: sel.p50,
        unit: 'ms',
        target: '≤ 20',
        baseline: selScan.p50,
        note: `p99 ${sel.p99.toFixed(2)} ms; ${scanNote(selScan)}`,
      },
      {
        metric: `COUNT() … GROUP BY p50 (100 groups over ${DEVICES} twins, index)`,
        value: grp.p50,
        unit: 'ms',
        target: '≤ 300',
        baseline: grpScan.p50,
        note: `p99 ${grp.p99.toFixed(1)} ms; ${scanNote(grpScan)}`,
      },
      {
        metric: `FROM devices.modules selective p50 (${Math.floor(MODULE_TWINS / 2000)} of ${MODULE_TWINS} module twins, index)`,
        value: mod.p50,
        unit: 'ms',
        target: '≤ 20',
        baseline: modScan.p50,
        note: `p99 ${mod.p99.toFixed(2)} ms; ${scanNote(modScan)}`,
      },
      {
        metric: `job condition over ${Math.floor(DEVICES / 100)} of ${DEVICES} twins (select, index)`,
        value: jobSel.p50,
        unit: 'ms',
        baseline: jobScan.p50,
        note: `DeviceSelection.select as the scheduler calls it; ${scanNote(jobScan)}`,
      },
      {
        metric: 'first indexed query (registry order + tags.building, tags.floor indexes)',
        value: buildMs,
        unit: 'ms',
        baseline: firstScanMs,
        note: 'reads the store once for the order and once per index, on first use; baseline: the first scan of the same query',
      },
      { metric: 'first GROUP BY (index on the grouped path already built)', value: groupBuildMs, unit: 'ms' },
      { metric: 'first module query (module order + moduleid index)', value: moduleBuildMs, unit: 'ms' },
      {
        metric: `twin tag write with ${indexCount} device indexes (per write)`,
        value: indexedWrite,
        unit: 'µs',
        baseline: plainWrite,
        note: 'a tag change saved through DeviceStore (SQLite write-through) moving two indexed values; baseline: the same writes before any selection listened',
      },
    ];
    return rows;
  },
};

function page(selection: DeviceSelection, query: Query): unknown[] {
  return selection.page(query, { offset: 0, size: 100, key: 'bench' }).items;
}

function fill(registry: RegistryService, store: DeviceStore, modules: ModuleStore): void {
  const batch: DeviceRecord[] = [];
  for (let n = 0; n < DEVICES; n++) {
    const record = registry.prepareCreate({ deviceId: `bench-q-${String(n).padStart(7, '0')}` });
    record.twin.tags = { building: String(n % 100), floor: Math.floor(n / 100) % 20, model: ['lock-a', 'lock-b', 'lock-c'][n % 3]! };
    batch.push(record);
    if (batch.length === 10_000 || n === DEVICES - 1) {
      store.commit(batch);
      batch.length = 0;
    }
  }
  const template = registry.prepareCreate({ deviceId: 'template' });
  const moduleBatch: ModuleRecord[] = [];
  for (let n = 0; n < MODULE_TWINS; n++) {
    const deviceId = `bench-q-${String(Math.floor(n / MODULES_PER_DEVICE)).padStart(7, '0')}`;
    moduleBatch.push({
      deviceId,
      moduleId: `mod-${n % 2000}`,
      generationId: template.generationId,
      etagVersion: 1,
      managedBy: null,
      authentication: template.authentication,
      connectionState: 'Disconnected',
      connectionStateUpdatedTime: template.connectionStateUpdatedTime,
      lastActivityTime: template.lastActivityTime,
      cloudToDeviceMessageCount: 0,
      modelId: '',
      twin: { ...template.twin, tags: { slot: n % 10 } },
    });
    if (moduleBatch.length === 10_000 || n === MODULE_TWINS - 1) {
      modules.saveMany(moduleBatch);
      moduleBatch.length = 0;
    }
  }
}

function latency(op: () => unknown, samples: number): { p50: number; p99: number; n: number } {
  const warmUp = Math.max(1, Math.floor(samples / 10));
  for (let i = 0; i < warmUp; i++) op();
  const h = hdr.build({ numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    op();
    h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
  }
  return { p50: h.getValueAtPercentile(50) / 1000, p99: h.getValueAtPercentile(99) / 1000, n: samples };
}

/**
 * µs per twin tag write through DeviceStore.save (SQLite write-through included) that moves 10,000
 * twins to another building and floor and back, leaving the twins as they were.
 */
function writeCost(store: DeviceStore): number {
  const WRITES = 10_000;
  const t0 = performance.now();
  for (const back of [false, true]) {
    for (let i = 0; i < WRITES; i++) {
      const n = (i * 37) % DEVICES;
      const record = store.get(`bench-q-${String(n).padStart(7, '0')}`)!;
      const building = back ? n % 100 : (n + 1) % 100;
      record.twin.tags = { ...record.twin.tags, building: String(building), floor: back ? Math.floor(n / 100) % 20 : 19 - (Math.floor(n / 100) % 20) };
      store.save(record);
    }
  }
  return ((performance.now() - t0) * 1000) / (2 * WRITES);
}
