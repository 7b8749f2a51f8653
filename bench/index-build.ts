import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeviceChannels } from '../emulator/device-channels.js';
import { HubEvents } from '../emulator/events.js';
import type { DeviceRecord } from '../emulator/identity/device-record.js';
import { RegistryService } from '../emulator/identity/registry-service.js';
import { openDatabase } from '../emulator/store/database.js';
import { DeviceStore } from '../emulator/store/device-store.js';
import { ModuleStore } from '../emulator/store/module-store.js';
import type { Bench, BenchRow } from './support/harness.js';

// What the background build of declared query indexes reads (docs/scaling.md §3.2), in process:
// DEVICES records stored on disk (the scale bench's small twin: three tags, one desired
// property), the store reopened with a small cache as after a restart at 1,000,000, then every
// record read the two ways, alternated ROUNDS times: `DeviceStore.all()` (a rowid read and a
// whole-record parse each: what a build by the first query reads) and `DeviceStore.indexSlice`
// (256 rows a statement, only the id, status and the tags, extracted by SQLite).
const DEVICES = Number(process.env.BENCH_INDEX_BUILD_DEVICES ?? 100_000);
const ROUNDS = Number(process.env.BENCH_INDEX_BUILD_ROUNDS ?? 3);

export const bench: Bench = {
  name: 'index-build',
  description: `reading ${DEVICES.toLocaleString('en')} stored records for a tags index (in process, on disk), load average ${os.loadavg()[0]!.toFixed(1)} at start`,
  async run() {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-bench-index-build-'));
    try {
      const db = openDatabase({ dataDir: dir, inMemory: false });
      const store = new DeviceStore(db, new ModuleStore(db), { cacheSize: 1000 });
      const registry = new RegistryService(store, new ModuleStore(db), new DeviceChannels(), new HubEvents());
      const base = JSON.stringify(registry.prepareCreate({ deviceId: 'template' }));
      for (let from = 0; from < DEVICES; from += 1000) {
        const batch: DeviceRecord[] = [];
        for (let i = from; i < Math.min(from + 1000, DEVICES); i++) {
          const r = JSON.parse(base) as DeviceRecord;
          r.deviceId = `scale-${String(i).padStart(7, '0')}`;
          r.twin.tags = { building: String(i % 100), floor: i % 20, site: 'north' };
          r.twin.desired.properties = { interval: 30 } as never;
          batch.push(r);
        }
        store.commit(batch);
      }
      db.close();
      const times: Record<'all' | 'slice', number[]> = { all: [], slice: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const mode of ['all', 'slice'] as const) {
          const reopened = openDatabase({ dataDir: dir, inMemory: false });
          const fresh = new DeviceStore(reopened, new ModuleStore(reopened), { cacheSize: 1000 });
          while (fresh.loading) await new Promise((r) => setImmediate(r));
          const t0 = performance.now();
          let n = 0;
          if (mode === 'all') {
            for (const r of fresh.all()) if (r.twin.tags.building !== undefined) n++;
          } else {
            for (let cursor: number | undefined = 0; cursor !== undefined; ) {
              const slice = fresh.indexSlice(cursor, 256, { tags: true });
              for (const r of slice.records) if (r.twin.tags.building !== undefined) n++;
              cursor = slice.next;
            }
          }
          times[mode].push(performance.now() - t0);
          reopened.close();
          if (n !== DEVICES) throw new Error(`${mode} read ${n} records`);
          console.log(`  round ${round + 1}: ${mode} ${(times[mode].at(-1)! / 1000).toFixed(2)} s (load ${os.loadavg()[0]!.toFixed(1)})`);
        }
      }
      const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const rows: BenchRow[] = [
        {
          metric: `read ${DEVICES} stored records for a tags index: id, status and tags only (DeviceStore.indexSlice), median of ${ROUNDS}`,
          value: median(times.slice) / 1000,
          unit: 's',
          baseline: median(times.all) / 1000,
          note: `baseline: every whole record read by rowid and parsed (DeviceStore.all(), what a build by the first query reads), alternated with it; rounds: slice ${times.slice.map((t) => (t / 1000).toFixed(2)).join(', ')} s, all ${times.all.map((t) => (t / 1000).toFixed(2)).join(', ')} s`,
        },
      ];
      return rows;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
