import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub, tempDataDir } from './support/hub-factory.js';
import { call, Registry } from './support/job-helpers.js';

// Declared query indexes built in the background after a restart (docs/scaling.md §3.2), through
// the wire: a hub on a data directory of 300 devices restarted with `--query-index
// deviceId,tags.building,tags.floor`, the build cut into slow slices so that requests meet it.
// While it runs, twin reads and registry writes are answered at once (devices the build has
// passed and devices it has not reached are updated, deleted and created); a query that arrives
// meanwhile waits for the build and answers as a scan of the same hub does; paging over a set
// that changes between pages neither repeats nor skips a device that exists throughout.

const DEVICES = 300;
const DECLARED = ['deviceId', 'tags.building', 'tags.floor'];
const id = (i: number): string => `bg${String(i).padStart(3, '0')}`;
const data = tempDataDir();
let hub: Hub;

/** Every page of a query through the service SDK, as ids (and the GROUP BY rows as they are). */
async function pages(sql: string, pageSize: number): Promise<unknown[][]> {
  const query = Registry.fromConnectionString(hub.connectionString()).createQuery(sql, pageSize);
  const out: unknown[][] = [];
  while (query.hasMoreResults) {
    const page = await query.next(query.continuationToken as string);
    out.push((page.result as { deviceId?: string }[]).map((row) => row.deviceId ?? row));
    expect(out.length).toBeLessThan(200);
  }
  return out;
}

const building = (): boolean => !hub.selection.indexedPaths().devices.includes('tags.building');

beforeAll(async () => {
  const first = await startTestHub({ dataDir: data.dir, inMemory: false });
  for (let from = 0; from < DEVICES; from += 100) {
    const devices = Array.from({ length: 100 }, (_, k) => ({
      id: id(from + k),
      importMode: 'create',
      tags: { building: String((from + k) % 10), floor: (from + k) % 3 },
    }));
    expect((await call(first, 'POST', '/devices?api-version=2021-04-12', devices)).status).toBe(200);
  }
  // Some twins written part by part (their tags in their own column, migration 10).
  for (let i = 0; i < DEVICES; i += 7) {
    expect((await call(first, 'PATCH', `/twins/${id(i)}?api-version=2021-04-12`, { tags: { floor: 9 } })).status).toBe(200);
  }
  await first.stop();
  hub = await startTestHub({
    dataDir: data.dir,
    inMemory: false,
    queryIndex: DECLARED,
    // One record a slice, a pause between slices: the build takes over 3 s, long enough to be met
    // by the requests below however slowly the hub started on a loaded machine.
    queryIndexBuildSlice: { ms: 0, records: 1, pauseMs: 10 },
  });
});
afterAll(async () => {
  await hub?.stop();
  data.remove();
});

describe('a hub restarted with declared indexes', () => {
  it('answers reads and writes during the build, and a query meanwhile waits for it and answers as a scan', async () => {
    expect(building()).toBe(true);
    // Changes to devices the build has passed or not reached yet (it goes in registry order).
    for (const i of [0, 2, DEVICES - 1, DEVICES - 3]) {
      expect((await call(hub, 'PATCH', `/twins/${id(i)}?api-version=2021-04-12`, { tags: { building: 'moved' } })).status).toBe(200);
    }
    for (const i of [1, DEVICES - 2])
      expect((await call(hub, 'DELETE', `/devices/${id(i)}?api-version=2021-04-12`, undefined, { 'if-match': '*' })).status).toBe(204);
    expect((await call(hub, 'PUT', '/devices/late?api-version=2021-04-12', { deviceId: 'late' })).status).toBe(200);
    expect((await call(hub, 'PATCH', '/twins/late?api-version=2021-04-12', { tags: { building: '3', floor: 0 } })).status).toBe(200);
    const twin = await call(hub, 'GET', `/twins/${id(DEVICES - 6)}?api-version=2021-04-12`);
    expect(twin.json.tags).toEqual({ building: String((DEVICES - 6) % 10), floor: 9 });
    // All of that was answered while the build still ran.
    expect(building()).toBe(true);

    const selective = pages("SELECT * FROM devices WHERE tags.building = '3' AND tags.floor = 0", 4);
    const grouped = pages('SELECT tags.building, COUNT() AS n FROM devices GROUP BY tags.building', 100);
    const moved = pages("SELECT * FROM devices WHERE tags.building = 'moved'", 100);
    const [selectiveAnswer, groupedAnswer, movedAnswer] = await Promise.all([selective, grouped, moved]);
    // The queries waited for the build: the declared indexes are in use now.
    expect(building()).toBe(false);
    for (const path of DECLARED) expect(hub.selection.indexedPaths().devices).toContain(path.toLowerCase());

    // The same questions in forms no index answers (NOT says nothing to an index): a scan.
    expect(selectiveAnswer).toEqual(await pages("SELECT * FROM devices WHERE NOT (tags.building != '3' OR tags.floor != 0)", 4));
    expect(movedAnswer).toEqual([[id(0), id(2), id(DEVICES - 3), id(DEVICES - 1)]]);
    const expected = new Map<string, number>();
    for (let i = 0; i < DEVICES; i++) {
      if (i === 1 || i === DEVICES - 2) continue;
      const b = [0, 2, DEVICES - 1, DEVICES - 3].includes(i) ? 'moved' : String(i % 10);
      expected.set(b, (expected.get(b) ?? 0) + 1);
    }
    expected.set('3', expected.get('3')! + 1);
    const counts = new Map((groupedAnswer[0] as { building: string; n: number }[]).map((g) => [g.building, g.n]));
    expect(counts).toEqual(expected);
    expect(selectiveAnswer.flat()).toContain('late');
  });

  it('pages over a changing set without repeating or skipping a device that exists throughout', async () => {
    const sql = "SELECT * FROM devices WHERE tags.building = '5'";
    const stable = (await pages(sql, 100)).flat() as string[];
    expect(stable.length).toBe(DEVICES / 10);
    const query = Registry.fromConnectionString(hub.connectionString()).createQuery(sql, 4);
    const seen: string[] = [];
    let n = 0;
    while (query.hasMoreResults) {
      const page = await query.next(query.continuationToken as string);
      const ids = (page.result as { deviceId: string }[]).map((t) => t.deviceId);
      seen.push(...ids);
      // Between pages: the page's last device deleted and created again (a new device, at the
      // end), and a new matching device registered.
      const last = ids.at(-1);
      if (last !== undefined && n % 2 === 0) {
        expect((await call(hub, 'DELETE', `/devices/${last}?api-version=2021-04-12`, undefined, { 'if-match': '*' })).status).toBe(204);
        expect((await call(hub, 'PUT', `/devices/${last}?api-version=2021-04-12`, { deviceId: last })).status).toBe(200);
      }
      expect((await call(hub, 'PUT', `/devices/new${n}?api-version=2021-04-12`, { deviceId: `new${n}` })).status).toBe(200);
      expect((await call(hub, 'PATCH', `/twins/new${n}?api-version=2021-04-12`, { tags: { building: '5' } })).status).toBe(200);
      n++;
      expect(n).toBeLessThan(100);
    }
    expect(new Set(seen).size, 'no device twice').toBe(seen.length);
    // Every device matching at the start was seen (those deleted, once, before it went).
    expect(stable.filter((s) => !seen.includes(s))).toEqual([]);
    // The new matching devices come after the cursor (at the end of the registry order): all seen
    // but the one registered after the last page.
    expect(seen.filter((s) => s.startsWith('new')).length).toBe(n - 1);
  });
});
