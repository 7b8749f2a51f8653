import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../emulator/identity/device-record.js';
import { openDatabase, type Db } from '../../emulator/store/database.js';
import { DeviceStore, type DeviceStoreOptions } from '../../emulator/store/device-store.js';
import { migrations } from '../../emulator/store/migrations.js';
import { ModuleStore } from '../../emulator/store/module-store.js';
import { newTwin } from '../../emulator/twin/twin-view.js';
import { deviceRecord } from './support/device-records.js';

// The store's own logic over a real SQLite database (in memory): the registry order loading in
// the background while the store is used, the bounded cache, and the change observer. The hub
// paths over it are tested with the SDKs in test/registry-on-disk.test.ts.

function record(deviceId: string, tag = 0): DeviceRecord {
  const twin = newTwin('2026-12-01T00:00:00.0000000Z');
  twin.tags = { tag };
  return deviceRecord(deviceId, twin);
}

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `d${String(i).padStart(2, '0')}`);

function open(db: Db, options: DeviceStoreOptions): DeviceStore {
  return new DeviceStore(db, new ModuleStore(db), options);
}

async function loaded(store: DeviceStore): Promise<void> {
  while (store.loading) await new Promise((r) => setImmediate(r));
}

function seeded(n: number): Db {
  const db = openDatabase({ dataDir: '', inMemory: true });
  open(db, {}).commit(ids(n).map((id, i) => record(id, i)));
  return db;
}

/** A data directory's database at the schema before the migration that holds `marker`: every migration before it, as an older hub left it. */
function schemaBefore(dir: string, marker: string): Database.Database {
  const before = migrations.findIndex((migration) => migration.includes(marker));
  const db = new Database(path.join(dir, 'hub.sqlite'));
  for (const migration of migrations.slice(0, before)) db.exec(migration);
  db.pragma(`user_version = ${before}`);
  return db;
}

describe('DeviceStore', () => {
  it('answers a device touched while the registry order still loads, and keeps that order', async () => {
    const db = seeded(20);
    // Three rows a turn: the order of 20 devices takes seven turns to load.
    const store = open(db, { cacheSize: 2, loadChunkRows: 3 });
    expect(store.loading).toBe(true);
    expect(store.size).toBe(20);
    expect(store.get('d17')?.twin.tags).toEqual({ tag: 17 });
    expect(store.has('d19')).toBe(true);
    expect(store.has('nope')).toBe(false);
    expect(store.get('nope')).toBeUndefined();
    // A delete of a row the load has not reached, one it has, an update and a new device.
    expect(store.delete('d15')).toBe(true);
    expect(store.delete('d01')).toBe(true);
    const updated = store.get('d10')!;
    updated.twin.tags = { tag: 'changed' };
    store.save(updated);
    store.save(record('new'));
    expect(store.size).toBe(19);
    const expected = [...ids(20).filter((id) => id !== 'd15' && id !== 'd01'), 'new'];
    expect(store.ids()).toEqual(expected);
    expect(Array.from(store.all(), (r) => r.deviceId)).toEqual(expected);
    expect(store.loading).toBe(true);

    await new Promise((r) => setImmediate(r));
    store.save(record('newer'));
    expect(store.delete('d02')).toBe(true);
    await loaded(store);
    const after = [...expected.filter((id) => id !== 'd02'), 'newer'];
    expect(store.ids()).toEqual(after);
    expect(Array.from(store.all(), (r) => r.deviceId)).toEqual(after);
    expect(Array.from(store.all('d18'), (r) => r.deviceId)).toEqual(['d19', 'new', 'newer']);
    expect(store.get('d10')?.twin.tags).toEqual({ tag: 'changed' });
    expect(store.get('d15')).toBeUndefined();
    expect(store.size).toBe(after.length);

    // A new store on the same rows (a restart) finds the same order and contents.
    const again = open(db, { cacheSize: 2, loadChunkRows: 3 });
    await loaded(again);
    expect(again.ids()).toEqual(after);
    expect(again.get('d10')?.twin.tags).toEqual({ tag: 'changed' });
  });

  it('keeps at most cacheSize records, never a connected one, and writes back what changed in memory', async () => {
    const db = seeded(10);
    const store = open(db, { cacheSize: 2 });
    await loaded(store);
    const connected = store.get('d00')!;
    connected.connectionState = 'Connected';
    const counted = store.get('d01')!;
    counted.cloudToDeviceMessageCount = 3;
    for (const id of ids(10).slice(2)) store.get(id);
    // d00 stayed: the same object; d01 left and was written back on its way out.
    expect(store.get('d00')).toBe(connected);
    const reread = store.get('d01')!;
    expect(reread).not.toBe(counted);
    expect(reread.cloudToDeviceMessageCount).toBe(3);
    // A scan does not push records out; it returns the ones in the cache as they are.
    const scanned = Array.from(store.all());
    expect(scanned).toHaveLength(10);
    expect(scanned[0]).toBe(connected);
  });

  it('keeps a hot set cached while others stream through, when reads of recent entries do not move them', async () => {
    // A read of an entry placed less than a quarter of the capacity ago leaves it where it is
    // (DeviceStore.get): it must still never be the one evicted.
    const db = seeded(216);
    const store = open(db, { cacheSize: 16 });
    await loaded(store);
    const hot = ids(216).slice(0, 4);
    const held = hot.map((id) => store.get(id)!);
    const cold = ids(216).slice(4);
    const firsts: DeviceRecord[] = [];
    for (const id of cold) {
      firsts.push(store.get(id)!);
      for (const [j, h] of hot.entries()) expect(store.get(h)).toBe(held[j]);
    }
    // The cache holds 16: the 4 hot records and the 12 cold ones read last (reading a cached
    // record evicts nothing); the cold ones before them left it.
    for (let i = cold.length - 12; i < cold.length; i++) expect(store.get(cold[i]!)).toBe(firsts[i]);
    for (const [j, h] of hot.entries()) expect(store.get(h)).toBe(held[j]);
    expect(store.get(cold[0]!)).not.toBe(firsts[0]);
  });

  it('evicts the least recently used record, across many evictions, reads in between and a clear', async () => {
    const db = seeded(40);
    const store = open(db, { cacheSize: 3 });
    await loaded(store);
    const a = store.get('d00')!;
    store.get('d01');
    store.get('d02');
    // d00 read again: d01 is now the least recently used, and goes first.
    expect(store.get('d00')).toBe(a);
    const d03 = store.get('d03')!;
    expect(store.get('d00')).toBe(a);
    expect(store.get('d03')).toBe(d03);
    // Many evictions in a row, keeping d00 in use: it stays, every other record cycles out.
    for (const id of ids(40).slice(4)) {
      store.get(id);
      expect(store.get('d00')).toBe(a);
    }
    const last = store.get('d39')!;
    expect(store.get('d39')).toBe(last);
    expect(store.get('d03')).not.toBe(d03);
    store.clear();
    store.commit(ids(5).map((id, i) => record(id, i)));
    const fresh = ids(5).map((id) => store.get(id)!);
    // After the clear the cache fills and evicts again from its new oldest entry.
    expect(store.get('d04')).toBe(fresh[4]);
    expect(store.get('d00')).not.toBe(fresh[0]);
  });

  it('tells its change hooks of every committed change', () => {
    const db = seeded(3);
    const store = open(db, {});
    const seen: [string, unknown][] = [];
    let cleared = 0;
    store.onChange({ changed: (id, r) => seen.push([id, r?.twin.tags]), cleared: () => cleared++ });
    store.save(record('x', 7));
    store.commit([record('y', 8)], ['d00']);
    store.delete('x');
    store.clear();
    expect(seen).toEqual([
      ['x', { tag: 7 }],
      ['y', { tag: 8 }],
      ['d00', undefined],
      ['x', undefined],
    ]);
    expect(cleared).toBe(1);
    expect(store.size).toBe(0);
    expect(store.ids()).toEqual([]);
  });

  it('saves only the twin parts a write changed, and a whole-record save after them supersedes them', async () => {
    const db = seeded(3);
    const store = open(db, {});
    await loaded(store);
    const seen: string[] = [];
    store.onChange({ changed: (id) => seen.push(id), cleared: () => undefined });
    const twin = store.get('d01')!;
    twin.twin.reported.properties = { battery: 90 };
    twin.twin.reported.version = 2;
    twin.twin.version = 2;
    twin.lastActivityTime = '2026-12-01T01:00:00.0000000Z';
    store.saveTwin(twin, { reported: true });
    twin.twin.desired.properties = { mode: 'auto' };
    twin.twin.tags = { tag: 'x' };
    twin.twin.version = 3;
    twin.twin.etag = 2;
    store.saveTwin(twin, { desired: true, tags: true });
    expect(seen).toEqual(['d01', 'd01']);
    const partsSaved = () => db.prepare('SELECT count(*) FROM device_twins').pluck().get();
    expect(partsSaved()).toBe(1);
    // What another store on the same rows (a restart) reads: the record with every saved part over it.
    const reread = (id: string) => open(db, {}).get(id)!;
    const expected = { ...twin, connectionState: 'Disconnected' };
    expect(reread('d01')).toEqual(expected);
    expect(reread('d00')).toEqual(record('d00', 0));
    // A whole-record save (a registry update) writes every part; the parts saved before are gone with it.
    twin.status = 'disabled';
    twin.twin.reported.properties = { battery: 80 };
    store.save(twin);
    expect(reread('d01')).toEqual({ ...twin, connectionState: 'Disconnected' });
    expect(partsSaved()).toBe(0);
    // A record that is not the cached object is saved whole.
    const copy = { ...twin, twin: { ...twin.twin, tags: { tag: 'copy' } } };
    store.saveTwin(copy, { tags: true });
    expect(reread('d01').twin.tags).toEqual({ tag: 'copy' });
  });

  it('in memory, holds a cached twin write until the record leaves the cache, and writes a lent one at once', async () => {
    const db = seeded(6);
    const store = open(db, { cacheSize: 2, holdTwinWrites: true });
    await loaded(store);
    const seen: string[] = [];
    store.onChange({ changed: (id) => seen.push(id), cleared: () => undefined });
    const stored = (id: string) =>
      db.prepare('SELECT count(*) FROM device_twins WHERE device_rowid = (SELECT rowid FROM devices WHERE device_id = ?)').pluck().get(id);
    const reread = (id: string) => open(db, {}).get(id)!;
    const held = store.get('d01')!;
    held.twin.reported.properties = { battery: 90 };
    held.twin.version = 2;
    store.saveTwin(held, { reported: true });
    // Told at once (the query indexes), written nowhere yet; the store answers with the record itself.
    expect(seen).toEqual(['d01']);
    expect(stored('d01')).toBe(0);
    expect(store.get('d01')).toBe(held);
    expect(Array.from(store.all()).find((r) => r.deviceId === 'd01')).toBe(held);
    // Pushed out of the cache, it is written whole on its way out.
    for (const id of ['d02', 'd03', 'd04']) store.get(id);
    expect(reread('d01')).toEqual({ ...held, connectionState: 'Disconnected' });
    expect(store.get('d01')).not.toBe(held);
    expect(store.get('d01')!.twin.reported.properties).toEqual({ battery: 90 });
    // A record lent by readBatch (a twin job's slice) never enters the cache: its write goes through.
    store.readBatch(['d05']);
    const lent = store.get('d05')!;
    lent.twin.tags = { tag: 'lent' };
    lent.twin.version = 2;
    store.saveTwin(lent, { tags: true });
    store.endBatch();
    expect(reread('d05').twin.tags).toEqual({ tag: 'lent' });
    // The hub's stop writes back what is still held.
    const last = store.get('d04')!;
    last.twin.desired.properties = { mode: 'auto' };
    last.twin.version = 2;
    store.saveTwin(last, { desired: true });
    expect(reread('d04').twin.desired.properties).toEqual({});
    store.writeBackUnsaved();
    expect(reread('d04')).toEqual({ ...last, connectionState: 'Disconnected' });
  });

  it('deletes the twin parts saved apart with their device: a device given its rowid again reads its own twin', () => {
    const db = seeded(2);
    const store = open(db, {});
    const last = store.get('d01')!;
    last.twin.tags = { tag: 'saved apart' };
    store.saveTwin(last, { tags: true });
    store.delete('d01');
    // SQLite gives the largest rowid again once its row is gone.
    store.commit([record('d02', 2)]);
    expect(db.prepare("SELECT rowid FROM devices WHERE device_id = 'd02'").pluck().get()).toBe(2);
    expect(open(db, {}).get('d02')!.twin.tags).toEqual({ tag: 2 });
    store.clear();
    expect(db.prepare('SELECT count(*) FROM device_twins').pluck().get()).toBe(0);
  });

  it('reads the twin parts an earlier schema saved in the devices row, after moving them to device_twins', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-device-twins-'));
    try {
      // The schema before device_twins, with one record whose desired part and live fields were saved on their own.
      const old = schemaBefore(dir, 'CREATE TABLE device_twins');
      const insert = old.prepare('INSERT INTO devices (device_id, record, status) VALUES (?, ?, ?)');
      for (const id of ['a', 'b']) insert.run(id, JSON.stringify(record(id)), 'enabled');
      const desired = { properties: { mode: 'eco' }, metadata: { $lastUpdated: '2026-12-01T01:00:00.0000000Z' }, version: 2 };
      const live = ['2026-12-01T01:00:00.0000000Z', '2026-12-01T02:00:00.0000000Z', 'dtmi:x;1', 3];
      old
        .prepare("UPDATE devices SET twin_desired = ?, twin_version = 4, twin_etag = 3, live = ? WHERE device_id = 'b'")
        .run(JSON.stringify(desired), JSON.stringify(live));
      old.close();

      const db = openDatabase({ dataDir: dir, inMemory: false });
      try {
        expect(db.prepare('SELECT count(*) FROM devices WHERE twin_version IS NOT NULL').pluck().get()).toBe(0);
        const store = open(db, {});
        const b = store.get('b')!;
        expect(b.twin).toEqual({ ...record('b').twin, desired, version: 4, etag: 3 });
        expect([b.connectionStateUpdatedTime, b.lastActivityTime, b.modelId, b.cloudToDeviceMessageCount]).toEqual(live);
        expect(store.get('a')).toEqual(record('a'));
        // A whole-record save supersedes the parts, as before.
        store.save(b);
        expect(db.prepare('SELECT count(*) FROM device_twins').pluck().get()).toBe(0);
        expect(open(db, {}).get('b')).toEqual(b);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the enabled count', () => {
  it('reads through the index of non-enabled devices, on a data directory the earlier schema wrote', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-status-index-'));
    try {
      const old = schemaBefore(dir, 'CREATE INDEX devices_not_enabled');
      const insert = old.prepare('INSERT INTO devices (device_id, record, status) VALUES (?, ?, ?)');
      for (let n = 0; n < 10; n++)
        insert.run(`old-${n}`, JSON.stringify({ ...record(`old-${n}`), status: n < 3 ? 'disabled' : 'enabled' }), n < 3 ? 'disabled' : 'enabled');
      old.close();

      const db = openDatabase({ dataDir: dir, inMemory: false });
      try {
        const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'devices' AND sql IS NOT NULL").pluck().all();
        expect(indexes).toEqual(['devices_not_enabled']);
        const store = new DeviceStore(db);
        expect([store.size, store.enabledCount()]).toEqual([10, 7]);
        store.commit([{ ...record('new-0'), status: 'disabled' }, record('new-1')]);
        store.commit([{ ...store.get('old-0')!, status: 'enabled' }], ['old-5']);
        expect([store.size, store.enabledCount()]).toEqual([11, 8]);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
