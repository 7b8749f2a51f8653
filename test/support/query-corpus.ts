import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { DeviceChannels } from '../../emulator/device-channels.js';
import { HubEvents } from '../../emulator/events.js';
import { RegistryService } from '../../emulator/identity/registry-service.js';
import { parseJobCondition, parseQuery, type Query } from '../../emulator/query/index.js';
import { DeviceSelection } from '../../emulator/selection/device-selection.js';
import type { Page, PageRequest } from '../../emulator/selection/paging.js';
import type { QueryIndexSettings } from '../../emulator/selection/twin-indexes.js';
import { openDatabase, type Db } from '../../emulator/store/database.js';
import { DeviceStore } from '../../emulator/store/device-store.js';
import { ModuleStore } from '../../emulator/store/module-store.js';
import { TwinService } from '../../emulator/twin/twin-service.js';

// The query test corpus and a small fleet of varied twins over the real stores and services, for
// the tests that hold query indexes to the scan's answers (test/unit/query-index*.test.ts).

/** Every query the query tests use (the corpus), read out of their sources, plus the ones below. */
export function corpus(): string[] {
  const found = new Set<string>();
  for (const file of ['test/unit/query-eval.test.ts', 'test/unit/query-parse.test.ts', 'test/query-rest.test.ts']) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(["'`])((?:SELECT|FROM)\b(?:\\.|(?!\1)[^\\\n])*)\1/gi)) {
      const raw = m[2]!;
      found.add(m[1] === '"' ? raw.replace(/\\"/g, '"').replace(/\\\\/g, '\\') : raw.replace(/\\'/g, "'").replace(/\\\\/g, '\\'));
    }
  }
  return [...found];
}

/** Queries on the shapes the fleet below has: types, case, missing paths, null, ranges, AND/OR, NOT. */
export const OWN = [
  "SELECT * FROM devices WHERE tags.env = 'prod'",
  "SELECT * FROM devices WHERE Tags.ENV = 'prod'",
  "SELECT * FROM devices WHERE tags.Env = 'PROD'",
  'SELECT * FROM devices WHERE tags.n = 1',
  "SELECT * FROM devices WHERE tags.n = '1'",
  'SELECT * FROM devices WHERE tags.n IN [1, 2, 3]',
  "SELECT * FROM devices WHERE tags.n IN [1, '2', true, null]",
  'SELECT * FROM devices WHERE tags.n = null',
  'SELECT * FROM devices WHERE tags.n <= null',
  'SELECT * FROM devices WHERE tags.n < null',
  'SELECT * FROM devices WHERE tags.n = true',
  'SELECT * FROM devices WHERE tags.n >= false',
  'SELECT * FROM devices WHERE tags.n < true',
  'SELECT * FROM devices WHERE tags.flag',
  'SELECT * FROM devices WHERE tags.n > 2',
  'SELECT * FROM devices WHERE tags.n >= 2 AND tags.n < 5',
  'SELECT * FROM devices WHERE tags.n > -3 AND tags.n <= 0',
  'SELECT * FROM devices WHERE 2 < tags.n',
  "SELECT * FROM devices WHERE tags.n > '1'",
  "SELECT * FROM devices WHERE tags.env >= 'p' AND tags.env < 'q'",
  'SELECT * FROM devices WHERE tags.n > 1 AND tags.n < 1',
  "SELECT * FROM devices WHERE tags.n > 1 AND tags.n < 'z'",
  'SELECT * FROM devices WHERE tags.n = [1]',
  "SELECT * FROM devices WHERE tags.obj = {'a': 1}",
  'SELECT * FROM devices WHERE tags.obj.a = 1',
  'SELECT * FROM devices WHERE tags.obj.A = 1',
  "SELECT * FROM devices WHERE tags.env = 'prod' AND tags.n = 1",
  "SELECT * FROM devices WHERE tags.env = 'prod' OR tags.n = 1",
  "SELECT * FROM devices WHERE tags.env = 'prod' OR NOT (tags.n = 1)",
  "SELECT * FROM devices WHERE tags.env = 'prod' AND NOT (tags.n = 1)",
  "SELECT * FROM devices WHERE NOT (tags.env = 'prod')",
  "SELECT * FROM devices WHERE tags.env != 'prod'",
  "SELECT * FROM devices WHERE tags.env NIN ['prod', 'dev']",
  "SELECT * FROM devices WHERE (tags.env = 'prod' OR tags.env = 'dev') AND (properties.reported.t > 20 OR status = 'disabled')",
  "SELECT * FROM devices WHERE status = 'disabled'",
  "SELECT * FROM devices WHERE status = 'Disabled'",
  "SELECT * FROM devices WHERE connectionState = 'Connected'",
  "SELECT * FROM devices WHERE connectionState = 'Connected' AND tags.env = 'dev'",
  "SELECT * FROM devices WHERE deviceId = 'x005'",
  "SELECT * FROM devices WHERE deviceId > 'x050'",
  "SELECT * FROM devices WHERE STARTSWITH(deviceId, 'x01')",
  "SELECT * FROM devices WHERE STARTSWITH(deviceId, 'X01')",
  "SELECT * FROM devices WHERE STARTSWITH(tags.env, 'p') OR deviceId = 'x001'",
  'SELECT * FROM devices WHERE STARTSWITH(tags.n, 1)',
  "SELECT * FROM devices WHERE deviceId IN ['x003', 'x001'] AND tags.env = 'prod'",
  'SELECT * FROM devices WHERE properties.reported.t > 20.5',
  'SELECT * FROM devices WHERE properties.reported.t < 0',
  'SELECT * FROM devices WHERE properties.reported.t = 0',
  'SELECT * FROM devices WHERE properties.desired.level = 3',
  'SELECT * FROM devices WHERE properties.desired.$version > 1',
  'SELECT * FROM devices WHERE properties.reported.$version >= 2',
  'SELECT * FROM devices WHERE IS_DEFINED(tags.env)',
  "SELECT * FROM devices WHERE tags.env = 'prod' AND IS_DEFINED(properties.reported.t)",
  "SELECT TOP 5 * FROM devices WHERE tags.env = 'prod'",
  "SELECT TOP 3 * FROM devices WHERE tags.env IN ['prod', 'dev']",
  "SELECT deviceId, tags.env FROM devices WHERE tags.env = 'dev'",
  'SELECT tags.env, COUNT() AS n FROM devices GROUP BY tags.env',
  'SELECT tags.Env, COUNT() FROM devices GROUP BY tags.Env',
  'SELECT tags.n, COUNT() AS n FROM devices GROUP BY tags.n',
  'SELECT tags.obj, COUNT() AS n FROM devices GROUP BY tags.obj',
  'SELECT status, COUNT() AS n FROM devices GROUP BY status',
  'SELECT connectionState, COUNT() AS n, COUNT() AS m FROM devices GROUP BY connectionState',
  "SELECT tags.env, COUNT() AS n FROM devices WHERE status = 'enabled' GROUP BY tags.env",
  'SELECT TOP 2 tags.env, COUNT() AS n FROM devices GROUP BY tags.env',
  'SELECT COUNT() AS n FROM devices',
  "SELECT COUNT() AS n FROM devices WHERE tags.env = 'prod'",
  'SELECT AVG(properties.reported.t) AS t FROM devices WHERE tags.n > 0',
  "SELECT * FROM devices.modules WHERE moduleId = 'm1'",
  "SELECT * FROM devices.modules WHERE ModuleId = 'M1'",
  "SELECT * FROM devices.modules WHERE moduleId = 'm1' AND tags.env = 'prod'",
  "SELECT * FROM devices.modules WHERE deviceId = 'x002'",
  "SELECT * FROM devices.modules WHERE STARTSWITH(deviceId, 'x00')",
  "SELECT * FROM devices.modules WHERE properties.reported.t >= 10 OR moduleId = 'm0'",
  "SELECT * FROM devices.modules WHERE devices.modules.moduleId = 'm2'",
  "SELECT * FROM devices.modules WHERE connectionState = 'Connected'",
  'SELECT moduleId, COUNT() AS n FROM devices.modules GROUP BY moduleId',
  'SELECT COUNT() AS n FROM devices.modules',
];

/** A small, fixed pseudo-random sequence (mulberry32), so a failure replays. */
export function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const ENVS = ['prod', 'dev', 'PROD', 'Prod', 'qa', 'p', ''];
export const NS: unknown[] = [1, 2, 3, '1', '2', 0, -1, -3, 4.5, true, false, null, [1], { a: 1 }];

export interface Hub {
  db: Db;
  store: DeviceStore;
  modules: ModuleStore;
  registry: RegistryService;
  twins: TwinService;
  indexed: DeviceSelection;
  scanning: DeviceSelection;
}

/**
 * The real stores and services over one database, with an indexed selection and a scanning one
 * beside it. Given an existing `db` it is that hub restarted: new stores read what is on disk.
 */
export function openHub(
  db: Db = openDatabase({ dataDir: '', inMemory: true }),
  settings: QueryIndexSettings = { enabled: true, declared: [['tags', 'env']], after: 1 },
): Hub {
  const modules = new ModuleStore(db);
  const store = new DeviceStore(db, modules);
  const channels = new DeviceChannels();
  const events = new HubEvents();
  const registry = new RegistryService(store, modules, channels, events);
  const twins = new TwinService(store, modules, channels, events);
  // Index every path on first use, so every query of the corpus that can use one does.
  const indexed = new DeviceSelection(store, modules, settings);
  indexed.startBackgroundBuilds();
  const scanning = new DeviceSelection(store, modules, { enabled: false, declared: [], after: 0 });
  return { db, store, modules, registry, twins, indexed, scanning };
}

export function tagsFor(next: () => number): Record<string, unknown> {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const tags: Record<string, unknown> = {};
  if (next() < 0.85) tags.env = pick(ENVS);
  // A twin with two spellings of one name: which one a query finds depends on its spelling.
  if (next() < 0.05) tags.ENV = pick(ENVS);
  if (next() < 0.8) tags.n = pick(NS);
  if (next() < 0.3) tags.flag = next() < 0.5;
  if (next() < 0.3) tags.obj = next() < 0.5 ? { a: pick([1, 2, '1']) } : { A: 1 };
  return tags;
}

export function populate(hub: Hub, next: () => number, ids: readonly string[]): void {
  for (const id of ids) {
    hub.registry.create({ deviceId: id, ...(next() < 0.15 && { status: 'disabled' }) });
    hub.twins.update(id, { tags: tagsFor(next), properties: { desired: { level: Math.floor(next() * 5) } } }, undefined);
    if (next() < 0.8) hub.twins.patchReported(id, { t: next() < 0.1 ? 0 : Math.round((next() * 60 - 10) * 10) / 10 });
    if (next() < 0.3) hub.registry.setConnected(hub.store.get(id)!, true);
    const moduleCount = Math.floor(next() * 3);
    for (let m = 0; m < moduleCount; m++) {
      hub.registry.createModule(id, { moduleId: `m${m}` });
      hub.twins.update(id, { tags: { env: ENVS[Math.floor(next() * 3)] } }, undefined, `m${m}`);
      if (next() < 0.7) hub.twins.patchReported(`${id}/m${m}`, { t: Math.floor(next() * 20) });
    }
  }
}

/** Every page of a query as the REST face asks for them (cursor and count carried over). */
export function allPages(selection: DeviceSelection, query: Query, size: number): unknown[][] {
  const pages: unknown[][] = [];
  let request: PageRequest = { offset: 0, size, key: 'k' };
  for (;;) {
    const page: Page<unknown> = selection.page(query, request);
    pages.push(page.items);
    if (!page.more) return pages;
    request = { offset: request.offset + page.items.length, size, key: 'k', ...(page.last !== undefined && { after: page.last }) };
    if (pages.length > 10_000) throw new Error('paging does not end');
  }
}

export function compareAll(hub: Hub, queries: readonly Query[]): void {
  const decorate = (_key: string, view: object): object => view;
  for (const query of queries) {
    const label = query.text;
    for (const size of [1, 7, 100]) {
      expect(allPages(hub.indexed, query, size), `${label} (pages of ${size})`).toEqual(allPages(hub.scanning, query, size));
    }
    if (query.itemType !== 'Raw') {
      expect(hub.indexed.selectKeys(query), `${label} (selectKeys)`).toEqual(hub.scanning.selectKeys(query));
      expect(hub.indexed.select(query), `${label} (select)`).toEqual(hub.scanning.select(query));
    }
    expect(hub.indexed.count(query, decorate), `${label} (count)`).toBe(hub.scanning.count(query, decorate));
  }
}

export function compiledCorpus(): Query[] {
  const queries: Query[] = [];
  for (const text of [...corpus(), ...OWN]) {
    try {
      const query = parseQuery(text);
      if (query.source !== 'devices.jobs') queries.push(query);
    } catch {
      // The corpus holds the parse tests' invalid queries too; they never reach a selection.
    }
  }
  for (const condition of ["tags.env = 'prod'", "tags.Building = '43'", "FROM devices.modules WHERE ModuleId = 'm1'", '*']) {
    queries.push(parseJobCondition(condition));
  }
  return queries;
}
