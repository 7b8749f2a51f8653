import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseQuery } from '../../emulator/query/index.js';
import { DeviceSelection } from '../../emulator/selection/device-selection.js';
import type { PageRequest } from '../../emulator/selection/paging.js';
import { allPages, compareAll, compiledCorpus, openHub, populate, random, tagsFor, type Hub } from '../support/query-corpus.js';

// Query indexes (docs/scaling.md §3.2) never change an answer: every query of the query test
// corpus gives, page by page, what a scan gives — over the real stores and services, before and
// after updates, deletes and re-creations — and paging by cursor neither repeats nor skips a twin
// that exists throughout, while others come and go.

describe('query indexes answer as the scan does', () => {
  let hub: Hub;
  beforeEach(() => {
    hub = openHub();
  });
  afterEach(() => hub.db.close());

  it('over the whole query corpus, before and after updates, deletes and re-creations', () => {
    const next = random(15);
    const queries = compiledCorpus();
    expect(queries.length).toBeGreaterThan(150);
    const ids = Array.from({ length: 120 }, (_, i) => `x${String(i).padStart(3, '0')}`);
    populate(hub, next, ids);
    compareAll(hub, queries);
    // The indexes were built (on first use) and so were used by the comparison above.
    const paths = hub.indexed.indexedPaths();
    for (const path of ['tags.env', 'tags.n', 'status', 'connectionstate', 'deviceid', 'properties.reported.t']) expect(paths.devices).toContain(path);
    expect(paths.modules).toContain('moduleid');
    expect(hub.scanning.indexedPaths()).toEqual({ devices: [], modules: [] });

    // Twins change in place; the indexes must move them between values.
    // Desired-only writes tell the indexes which part moved (ChangeHook's `parts`): the paths
    // under desired move, those under tags, reported and the record's fields stay filed as they were.
    const desiredOnly = ids.filter(() => next() < 0.5);
    hub.twins.updateMany(desiredOnly.slice(0, 30), { desired: { level: Math.floor(next() * 5) } }, undefined);
    for (const id of desiredOnly.slice(30))
      hub.twins.update(id, { properties: { desired: { level: next() < 0.2 ? null : Math.floor(next() * 5) } } }, undefined);
    compareAll(hub, queries);
    for (const id of ids.filter(() => next() < 0.4)) {
      hub.twins.update(id, { tags: tagsFor(next) }, undefined);
      hub.twins.patchReported(id, { t: next() < 0.3 ? null : Math.floor(next() * 40) });
      const record = hub.store.get(id)!;
      hub.registry.setConnected(record, next() < 0.5);
      if (next() < 0.2) hub.registry.update({ deviceId: id, status: record.status === 'enabled' ? 'disabled' : 'enabled' }, undefined);
      for (const module of hub.modules.ofDevice(id)) hub.twins.update(id, { tags: { env: next() < 0.5 ? 'prod' : null } }, undefined, module.moduleId);
    }
    for (const id of ids.filter(() => next() < 0.2)) hub.registry.delete(id, undefined);
    // Deleted ids come back as new devices (at the end of the registry order), some new ones join.
    populate(
      hub,
      next,
      ids.filter((id) => !hub.store.has(id) && next() < 0.5),
    );
    populate(
      hub,
      next,
      Array.from({ length: 30 }, (_, i) => `y${i}`),
    );
    for (const id of ids.filter((id) => hub.store.has(id) && next() < 0.2)) {
      const module = [...hub.modules.ofDevice(id)][0];
      if (module) hub.registry.deleteModule(id, module.moduleId, undefined);
    }
    compareAll(hub, queries);

    // A reset (clear) empties them; what comes after is indexed afresh.
    hub.registry.clearAll();
    compareAll(hub, queries.slice(0, 40));
    populate(hub, next, ids.slice(0, 40));
    compareAll(hub, queries);
  });

  it('reads records that existed before the first query (the indexes are built from the store on demand)', () => {
    const next = random(3);
    populate(
      hub,
      next,
      Array.from({ length: 60 }, (_, i) => `x${i}`),
    );
    // A store reopened on the same database: what it loaded is indexed at the first query.
    const reopened = new DeviceSelection(hub.store, hub.modules, { enabled: true, declared: [['tags', 'env']], after: 2 });
    const query = parseQuery("SELECT * FROM devices WHERE tags.env = 'prod'");
    expect(reopened.indexedPaths().devices).toEqual([]);
    expect(allPages(reopened, query, 5)).toEqual(allPages(hub.scanning, query, 5));
    expect(reopened.indexedPaths().devices).toEqual(['tags.env']);
    // tags.n is indexed once a second query names it (after: 2).
    const byN = parseQuery('SELECT * FROM devices WHERE tags.n = 1');
    reopened.select(byN);
    expect(reopened.indexedPaths().devices).not.toContain('tags.n');
    expect(reopened.select(byN)).toEqual(hub.scanning.select(byN));
    expect(reopened.indexedPaths().devices).toContain('tags.n');
  });
});

describe('paging by cursor while twins come and go', () => {
  let hub: Hub;
  beforeEach(() => {
    hub = openHub();
  });
  afterEach(() => hub.db.close());

  for (const [name, text] of [
    ['through an index', "SELECT * FROM devices WHERE tags.env = 'prod'"],
    ['by scanning', "SELECT * FROM devices WHERE NOT (tags.env = 'dev')"],
  ] as const) {
    it(`never repeats or skips a twin that exists throughout (${name})`, () => {
      const next = random(7);
      const stable = Array.from({ length: 150 }, (_, i) => `s${i}`);
      for (const id of stable) {
        hub.registry.create({ deviceId: id });
        hub.twins.update(id, { tags: { env: 'prod' } }, undefined);
      }
      let transient = 0;
      const transients: string[] = [];
      const addTransient = (): void => {
        const id = `t${transient++}`;
        hub.registry.create({ deviceId: id });
        hub.twins.update(id, { tags: { env: 'prod' } }, undefined);
        transients.push(id);
      };
      for (let i = 0; i < 40; i++) addTransient();
      for (const selection of [hub.indexed, hub.scanning]) {
        const query = parseQuery(text);
        const seen: string[] = [];
        let request: PageRequest = { offset: 0, size: 9, key: 'k' };
        for (let pages = 0; ; pages++) {
          const page = selection.page(query, request);
          const got = (page.items as { deviceId: string }[]).map((t) => t.deviceId);
          seen.push(...got);
          // Between pages: the last twin returned is deleted, transient twins come and go.
          const lastId = got.at(-1);
          if (lastId?.startsWith('t')) hub.registry.delete(lastId, undefined);
          for (let k = 0; k < 3; k++) {
            if (next() < 0.5) addTransient();
            const alive = transients.filter((id) => hub.store.has(id));
            if (alive.length > 0 && next() < 0.6) hub.registry.delete(alive[Math.floor(next() * alive.length)]!, undefined);
          }
          if (!page.more) break;
          request = { offset: request.offset + page.items.length, size: 9, key: 'k', after: page.last! };
          expect(pages).toBeLessThan(200);
        }
        expect(new Set(seen).size, 'no twin twice').toBe(seen.length);
        expect(
          stable.filter((id) => !seen.includes(id)),
          'every twin that existed throughout',
        ).toEqual([]);
      }
    });
  }

  it('resumes after a deleted last twin on module twins too', () => {
    for (let i = 0; i < 30; i++) {
      hub.registry.create({ deviceId: `d${i}` });
      for (const m of ['a', 'b']) hub.registry.createModule(`d${i}`, { moduleId: m });
    }
    for (const [selection, moduleId] of [
      [hub.indexed, 'a'],
      [hub.scanning, 'b'],
    ] as const) {
      const query = parseQuery(`SELECT * FROM devices.modules WHERE moduleId = '${moduleId}'`);
      const first = selection.page(query, { offset: 0, size: 10, key: 'k' });
      const ids = (first.items as { deviceId: string }[]).map((t) => t.deviceId);
      expect(ids).toEqual(Array.from({ length: 10 }, (_, i) => `d${i}`));
      hub.registry.deleteModule('d9', moduleId, undefined);
      hub.registry.deleteModule('d3', moduleId, undefined);
      const second = selection.page(query, { offset: 10, size: 10, key: 'k', after: first.last! });
      expect((second.items as { deviceId: string }[]).map((t) => t.deviceId)).toEqual(Array.from({ length: 10 }, (_, i) => `d${i + 10}`));
    }
  });

  it('falls back to the key, then to counting, for a cursor of another hub run', () => {
    for (let i = 0; i < 30; i++) hub.registry.create({ deviceId: `d${String(i).padStart(2, '0')}` });
    const query = parseQuery('SELECT * FROM devices');
    const first = hub.indexed.page(query, { offset: 0, size: 10, key: 'k' });
    expect(first.last).toMatch(/^~/);
    const foreign = String(first.last).replace(/^~[^~]*~/, '~another~');
    const byKey = hub.indexed.page(query, { offset: 10, size: 10, key: 'k', after: foreign });
    expect((byKey.items[0] as { deviceId: string }).deviceId).toBe('d10');
    // A bare device id (tokens of earlier versions) resumes after that twin too.
    const bare = hub.indexed.page(query, { offset: 10, size: 10, key: 'k', after: 'd04' });
    expect((bare.items[0] as { deviceId: string }).deviceId).toBe('d05');
    hub.registry.delete('d09', undefined);
    const counted = hub.indexed.page(query, { offset: 10, size: 10, key: 'k', after: foreign });
    expect((counted.items[0] as { deviceId: string }).deviceId).toBe('d11');
  });
});
