import { afterEach, describe, expect, it } from 'vitest';
import { parseQuery } from '../../emulator/query/index.js';
import type { PageRequest } from '../../emulator/selection/paging.js';
import type { QueryIndexSettings } from '../../emulator/selection/twin-indexes.js';
import { openDatabase, type Db } from '../../emulator/store/database.js';
import { compareAll, compiledCorpus, openHub, populate, random, tagsFor, type Hub } from '../support/query-corpus.js';

// Declared query indexes built in the background after a restart (docs/scaling.md §3.2): the
// stores reopened on a database that holds a fleet, the build cut into slices of a few records
// with devices registered, updated, connected and deleted between the slices — before the build
// reaches them and after it passed them — and every query of the corpus answered as a scan of the
// same store answers it: by a query that finishes the build part-way, and after the build ended
// on its own. Paging over a changing set during the build neither repeats nor skips.

const DECLARED = ['deviceid', 'status', 'connectionstate', 'tags.env', 'tags.n', 'tags.obj', 'properties.reported.t', 'properties.desired.level'];

function settings(build: 'background' | 'first-query' = 'background'): QueryIndexSettings {
  return { enabled: true, declared: DECLARED.map((p) => p.split('.')), after: 1, build, buildSlice: { ms: 0, records: 3 } };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Whether the declared device indexes are still being built (they are listed once in use). */
function building(hub: Hub): boolean {
  return !hub.indexed.indexedPaths().devices.includes('tags.env');
}

/** Changes between two slices of the build: twins updated (also the first and last ones), connected, deleted, created. */
function mutate(hub: Hub, next: () => number, round: number): void {
  const ids = hub.store.ids();
  const pick = (): string => ids[Math.floor(next() * ids.length)]!;
  const touched = [ids[0]!, ids.at(-1)!, pick(), pick()];
  for (const id of touched) {
    if (!hub.store.has(id)) continue;
    hub.twins.update(id, { tags: tagsFor(next) }, undefined);
    if (next() < 0.5) hub.twins.patchReported(id, { t: next() < 0.3 ? null : Math.floor(next() * 40) });
    // Kept in memory only (never written through): the build must see it in the cached record.
    hub.registry.setConnected(hub.store.get(id)!, next() < 0.6);
  }
  if (next() < 0.5) {
    const id = pick();
    if (hub.store.has(id)) hub.registry.delete(id, undefined);
  }
  if (next() < 0.5) populate(hub, next, [`new${round}`]);
}

describe('declared indexes built in the background after a restart', () => {
  const dbs: Db[] = [];
  afterEach(() => {
    for (const db of dbs.splice(0)) db.close();
  });

  function restarted(seed: number, build?: 'background' | 'first-query'): { hub: Hub; next: () => number } {
    const db = openDatabase({ dataDir: '', inMemory: true });
    dbs.push(db);
    const next = random(seed);
    populate(
      openHub(db),
      next,
      Array.from({ length: 150 }, (_, i) => `x${String(i).padStart(3, '0')}`),
    );
    // New stores on the same database: nothing cached, everything read from SQLite.
    return { hub: openHub(db, settings(build)), next };
  }

  it('answer as the scan does after the build, with changes between its slices', async () => {
    const { hub, next } = restarted(21);
    const queries = compiledCorpus();
    let slices = 0;
    while (building(hub)) {
      mutate(hub, next, slices++);
      await turn();
      expect(slices).toBeLessThan(10_000);
    }
    // Many slices, each with changes before and behind the build's place.
    expect(slices).toBeGreaterThan(20);
    for (const path of DECLARED) expect(hub.indexed.indexedPaths().devices).toContain(path);
    compareAll(hub, queries);
  });

  for (const at of [0, 5, 25]) {
    it(`answer as the scan does when a query finishes the build part-way (after ${at} slices)`, async () => {
      const { hub, next } = restarted(30 + at);
      for (let slice = 0; slice < at; slice++) {
        mutate(hub, next, slice);
        await turn();
      }
      expect(building(hub)).toBe(true);
      // A direct call (a job condition, a configuration) finishes what is left of the build at once.
      compareAll(hub, compiledCorpus());
      expect(building(hub)).toBe(false);
      for (let round = 0; round < 5; round++) mutate(hub, next, 100 + round);
      compareAll(hub, compiledCorpus());
    });
  }

  it('answer as the scan does when built by the first query instead (--query-index-build first-query)', async () => {
    const { hub } = restarted(44, 'first-query');
    await turn();
    await turn();
    expect(hub.indexed.indexedPaths().devices).toEqual([]);
    compareAll(hub, compiledCorpus());
  });

  it('page over a changing set without repeating or skipping a twin that exists throughout', async () => {
    const { hub, next } = restarted(52);
    const stable = hub.store.ids().filter((_, i) => i % 3 === 0);
    // Those never change; the others are updated, deleted and joined by new ones between pages and slices.
    const stableSet = new Set(stable);
    for (const id of stable) hub.twins.update(id, { tags: { env: 'prod' } }, undefined);
    const query = parseQuery("SELECT * FROM devices WHERE tags.env = 'prod'");
    const seen: string[] = [];
    let request: PageRequest = { offset: 0, size: 7, key: 'k' };
    let round = 0;
    for (;;) {
      // The REST face waits for the build; paging through it page by page while it runs is the direct call's path.
      const page = hub.indexed.page(query, request);
      seen.push(...(page.items as { deviceId: string }[]).map((t) => t.deviceId));
      for (let k = 0; k < 3; k++) {
        const ids = hub.store.ids().filter((id) => !stableSet.has(id));
        const id = ids[Math.floor(next() * ids.length)];
        if (id !== undefined && next() < 0.5) hub.registry.delete(id, undefined);
        else if (id !== undefined) hub.twins.update(id, { tags: { env: next() < 0.5 ? 'prod' : 'dev' } }, undefined);
        populate(hub, next, [`p${round++}`]);
      }
      await turn();
      if (!page.more) break;
      request = { offset: request.offset + page.items.length, size: 7, key: 'k', after: page.last! };
      expect(round).toBeLessThan(3000);
    }
    expect(new Set(seen).size, 'no twin twice').toBe(seen.length);
    expect(
      stable.filter((id) => !seen.includes(id)),
      'every twin that existed throughout',
    ).toEqual([]);
  });
});
