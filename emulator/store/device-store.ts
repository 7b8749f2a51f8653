import type { DeviceRecord } from '../identity/device-record.js';
import { DEVICE_CACHE_DEFAULT_RECORDS, DEVICE_ORDER_LOAD_CHUNK_ROWS, DEVICE_SCAN_CHUNK_ROWS } from '../limits.js';
import { ChangeHooks, type ChangeHook, type TwinParts } from './change-hook.js';
import { decodeDevice, encodeDevice, twinPartSql } from './device-codec.js';
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';

/** What is owned by a device and goes with it (its modules): rows deleted in the same transaction. */
export interface DeviceDependents {
  deleteRowsOf(deviceId: string): void;
  forgetDevice(deviceId: string): void;
  clear(): void;
}

export interface DeviceStoreOptions {
  /** parsed records kept in memory (connected devices stay beyond it) */
  cacheSize?: number;
  /** rows of the registry order read per event-loop turn while it loads in the background */
  loadChunkRows?: number;
  /**
   * Keep a cached record's twin writes in memory until the record leaves the cache (or the hub
   * stops) instead of writing each one through: only for a database that does not outlive the
   * process (`--in-memory`), where writing through protects nothing (see DeviceStore).
   */
  holdTwinWrites?: boolean;
}

export type { TwinParts };

/**
 * A stored record is its `record` text with the parts a twin write saved on their own laid over it
 * (its `device_twins` row, migrations.ts): the columns read, in this order, after the rowid where
 * there is one, FROM STORED.
 */
const STORED_COLUMNS = 'd.record, t.tags, t.desired, t.reported, t.version, t.etag, t.live';
const STORED = 'devices d LEFT JOIN device_twins t ON t.device_rowid = d.rowid';
type StoredParts = [string, string | null, string | null, string | null, number | null, number | null, string | null];

/** A cached record, with its live fields and status as they were when last read from or written to SQLite. */
interface Cached {
  record: DeviceRecord;
  rowid: number;
  persisted: string;
  status: string;
  /** a twin write held in memory (holdTwinWrites): the stored row is older than the record */
  twinHeld: boolean;
  /** `DeviceStore.placements` when the entry was last put at the cache's most recent end */
  placed: number;
}

/**
 * Devices and their twins. SQLite (the `devices` table) is the source of truth; parsed records
 * are kept in a bounded cache (least recently used first out, connected devices never), so a hub
 * of 1,000,000 devices neither loads them at start nor holds them all (docs/scaling.md §3.1).
 * Every change is written through before the caller answers, so a kill loses nothing.
 *
 * In memory (`--in-memory`, holdTwinWrites) nothing survives the process anyway, so a twin write
 * to a cached record stays in the record until it leaves the cache (eviction, the hub's stop, a
 * whole-record save): a device's reported PATCH then costs no serialisation and no UPDATE. Every
 * read of a cached device is answered from the cache (get, scans, indexSlice, readBatch and
 * prefetch read only what is not cached), so what SQLite holds meanwhile is never seen.
 *
 * The few fields the hub changes in memory without a write (connection state and times, the
 * model id, the C2D message count: hot, and reset or recomputed at start) are written back when
 * a record that carries such a change leaves the cache.
 *
 * The registry order is insertion order: SQLite's rowid, kept by updates. It is held in memory
 * (id → rowid, or the cached entry; ~70 bytes a device) so scans and "does it exist" never ask SQLite, and loaded in
 * the background after the store opens, a chunk per event-loop turn: until it is complete every
 * call is answered from SQLite instead (the same answers, more slowly), so the hub is ready at once.
 */
export class DeviceStore {
  private readonly cache = new Map<string, Cached>();
  /** entries put at the cache's most recent end so far (inserts and moves): see `get` */
  private placements = 0;
  /**
   * Where eviction goes on from: the least recently used end of the cache. A fresh `for … of`
   * per eviction starts at the Map's first slot and steps over every entry deleted since V8 last
   * compacted the table (up to the capacity): 100,000 evictions in a row took 59 s in a profile.
   */
  private lru: MapIterator<[string, Cached]> | undefined;
  /** id → the cached entry, or the rowid of a record not cached; registry order; complete once `loaded` */
  private readonly order = new Map<string, Cached | number>();
  private loaded = false;
  /** the highest rowid the background load has read (rows inserted at or below it are added at once) */
  private loadedUpTo = 0;
  private loader: NodeJS.Immediate | undefined;
  private readonly loadChunkRows: number;
  private readonly capacity: number;
  /** rows the last commitAll inserted, with their rowids */
  private inserted: [string, number][] = [];
  private count: number;
  /** moves with every write, so a scan notices that rows it read ahead may be stale */
  private writes = 0;
  /** ids found missing, valid while nothing was written since (a create asks twice: find, then has) */
  private absent = new Set<string>();
  private absentAt = -1;
  private readonly selectStatement;
  private readonly existsStatement;
  private readonly updateStatement;
  private readonly insertStatement;
  private readonly updateWithStatusStatement;
  private readonly deleteStatement;
  private readonly deleteTwinStatement;
  private readonly clearStatement;
  private readonly clearTwinsStatement;
  private readonly chunkStatement;
  private readonly rowidStatement;
  private readonly deviceIdAtStatement;
  private readonly byRowidStatement;
  private readonly idsStatement;
  private readonly notEnabledStatement;
  private readonly prefetchStatement;
  private readonly batchStatement;
  /** records read by readBatch(), lent until endBatch() without entering the cache */
  private batch: Map<string, Cached> | undefined;
  /** indexSlice's SELECT for each combination of twin parts (bit 1 tags, 2 desired, 4 reported), prepared on first use */
  private readonly sliceStatements: (Statement | undefined)[] = [];
  /** saveTwin's UPDATE for each combination of parts (bit 1 tags, 2 desired, 4 reported, 8 live fields), prepared on first use */
  private readonly twinStatements: (Statement | undefined)[] = [];
  // Built once: better-sqlite3 makes a new wrapper for every transaction() call.
  private readonly commitAll;
  private readonly saveTwinsAll;
  private readonly hooks = new ChangeHooks<DeviceRecord>();
  private readonly holdTwinWrites: boolean;

  constructor(
    private readonly db: Db,
    private readonly dependents?: DeviceDependents,
    options: DeviceStoreOptions = {},
  ) {
    this.capacity = options.cacheSize ?? DEVICE_CACHE_DEFAULT_RECORDS;
    this.loadChunkRows = options.loadChunkRows ?? DEVICE_ORDER_LOAD_CHUNK_ROWS;
    this.holdTwinWrites = options.holdTwinWrites ?? false;
    this.selectStatement = db.prepare(`SELECT d.rowid, ${STORED_COLUMNS} FROM ${STORED} WHERE d.device_id = ?`).raw();
    this.existsStatement = db.prepare('SELECT 1 FROM devices WHERE device_id = ?').pluck();
    this.updateStatement = db.prepare('UPDATE devices SET record = ? WHERE device_id = ?');
    this.updateWithStatusStatement = db.prepare('UPDATE devices SET record = ?, status = ? WHERE device_id = ?');
    this.insertStatement = db.prepare('INSERT INTO devices (device_id, record, status) VALUES (?, ?, ?) ON CONFLICT(device_id) DO NOTHING');
    this.deleteStatement = db.prepare('DELETE FROM devices WHERE device_id = ?');
    // A device's twin row goes with it (a new device may be given the rowid again).
    this.deleteTwinStatement = db.prepare('DELETE FROM device_twins WHERE device_rowid = (SELECT rowid FROM devices WHERE device_id = ?)');
    this.clearStatement = db.prepare('DELETE FROM devices');
    this.clearTwinsStatement = db.prepare('DELETE FROM device_twins');
    // Ids only: reading every record's text cost a scan over cached records 6× the scan itself.
    this.chunkStatement = db.prepare('SELECT rowid, device_id FROM devices WHERE rowid > ? ORDER BY rowid LIMIT ?').raw();
    this.byRowidStatement = db.prepare(`SELECT ${STORED_COLUMNS} FROM ${STORED} WHERE d.rowid = ?`).raw();
    this.rowidStatement = db.prepare('SELECT rowid FROM devices WHERE device_id = ?').pluck();
    this.deviceIdAtStatement = db.prepare('SELECT device_id FROM devices WHERE rowid = ?').pluck();
    this.idsStatement = db.prepare('SELECT device_id FROM devices ORDER BY rowid').pluck();
    this.prefetchStatement = db.prepare(`SELECT d.rowid, ${STORED_COLUMNS} FROM ${STORED} WHERE d.device_id IN (SELECT value FROM json_each(?))`).raw();
    this.batchStatement = db.prepare(`SELECT d.rowid, ${STORED_COLUMNS} FROM ${STORED} WHERE d.rowid IN (SELECT value FROM json_each(?))`).raw();
    // Through the partial index devices_not_enabled (its WHERE, word for word): enabled is the rest.
    this.notEnabledStatement = db.prepare("SELECT count(*) FROM devices WHERE status IS NOT 'enabled'").pluck();
    // Returns how many of the saved records are new (the store's size moves by that less the deletes).
    this.commitAll = db.transaction((texts: readonly string[], records: readonly DeviceRecord[], deviceIds: readonly string[]): number => {
      let added = 0;
      const inserted: [string, number][] = [];
      const insert = (id: string, text: string, status: string): boolean => {
        const result = this.insertStatement.run(id, text, status);
        if (result.changes === 0) return false;
        inserted.push([id, Number(result.lastInsertRowid)]);
        return true;
      };
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        const id = record.deviceId;
        const cached = this.cache.get(id);
        // A cached record exists (an update: the status column and its index only when the
        // status moved); others are most likely new (bulk registration, the largest writer).
        if (cached) {
          const changes =
            cached.status === record.status
              ? this.updateStatement.run(texts[i], id).changes
              : this.updateWithStatusStatement.run(texts[i], record.status, id).changes;
          if (changes === 0 && insert(id, texts[i]!, record.status)) added++;
        } else if (insert(id, texts[i]!, record.status)) added++;
        else this.updateWithStatusStatement.run(texts[i], record.status, id);
      }
      let removed = 0;
      for (const id of deviceIds) {
        this.deleteTwinStatement.run(id);
        removed += this.deleteStatement.run(id).changes;
        this.dependents?.deleteRowsOf(id);
      }
      this.inserted = inserted;
      return added - removed;
    });
    this.saveTwinsAll = db.transaction((records: readonly DeviceRecord[], parts: readonly TwinParts[]): void => {
      for (let i = 0; i < records.length; i++) this.saveTwin(records[i]!, parts[i]!);
    });
    // The one thing read at start: counting uses the smallest index, not the records.
    this.count = db.prepare('SELECT count(*) FROM devices').pluck().get() as number;
    this.loadOrder();
  }

  /** Whether the registry order is still loading in the background (answers come from SQLite meanwhile). */
  get loading(): boolean {
    return !this.loaded;
  }

  /** Reads the next chunk of the registry order; schedules the one after on the next turn. */
  private loadOrder(): void {
    this.loader = undefined;
    if (this.loaded || !this.db.open) return;
    const rows = this.chunkStatement.all(this.loadedUpTo, this.loadChunkRows) as [number, string][];
    for (const [rowid, deviceId] of rows) this.order.set(deviceId, this.cache.get(deviceId) ?? rowid);
    if (rows.length > 0) this.loadedUpTo = rows[rows.length - 1]![0];
    if (rows.length < this.loadChunkRows) {
      this.loaded = true;
      this.loadedUpTo = Number.POSITIVE_INFINITY;
      return;
    }
    this.loader = setImmediate(() => this.loadOrder());
  }

  /** Tells `hook` of every change from now on (docs/scaling.md §3.2: the query indexes). */
  onChange(hook: ChangeHook<DeviceRecord>): void {
    this.hooks.add(hook);
  }

  /** A change kept in memory only (the connection state, never written through on connect): tells the change hooks. */
  changedInMemory(record: DeviceRecord): void {
    if (this.cache.get(record.deviceId)?.record === record) this.hooks.changed(record.deviceId, record);
  }

  get(deviceId: string): DeviceRecord | undefined {
    const cached = this.cache.get(deviceId);
    if (cached) {
      // Most recently used goes last (a Map keeps insertion order). An entry placed fewer than a
      // quarter of the capacity's placements ago has at most that many entries behind it, so it is
      // far from the eviction end and stays where it is: the delete and set of every read churned
      // the Map's table into a rehash every few hundred reads of a hot device set, tables big
      // enough to be promoted. Up to a capacity of 4 only the newest entry qualifies: exact LRU.
      if (this.placements - cached.placed >= this.capacity / 4) {
        this.cache.delete(deviceId);
        this.place(deviceId, cached);
      }
      return cached.record;
    }
    const lent = this.batch?.get(deviceId);
    if (lent) return lent.record;
    if (!this.db.open) return undefined;
    if (this.loaded) {
      const slot = this.order.get(deviceId);
      if (slot === undefined) return undefined;
      // The order knows the row: a rowid lookup skips the device_id index (in a twin job over
      // 100,000 uncached devices of 1,000,000, the id lookups were most of its device selection).
      if (typeof slot === 'number') {
        const stored = this.byRowidStatement.get(slot) as StoredParts | undefined;
        const record = stored === undefined ? undefined : parseRecord(stored, 0);
        if (record?.deviceId === deviceId) {
          this.remember(record, slot, true);
          return record;
        }
      }
    } else if (this.isKnownAbsent(deviceId)) return undefined;
    const row = this.selectStatement.get(deviceId) as [number, ...StoredParts] | undefined;
    if (row === undefined) {
      this.rememberAbsent([deviceId]);
      return undefined;
    }
    const record = parseRecord(row, 1);
    this.remember(record, row[0], true);
    return record;
  }

  has(deviceId: string): boolean {
    if (this.cache.has(deviceId)) return true;
    if (this.loaded) return this.order.has(deviceId);
    if (this.isKnownAbsent(deviceId)) return false;
    return this.db.open && this.existsStatement.get(deviceId) !== undefined;
  }

  get size(): number {
    return this.count;
  }

  /**
   * Reads the records of `deviceIds` in one statement (a bulk registry call is about to look at
   * each): those that exist are cached, the others remembered as absent until the next write.
   */
  prefetch(deviceIds: readonly string[]): void {
    if (!this.db.open || deviceIds.length === 0) return;
    const missing = deviceIds.filter((id) => !this.cache.has(id) && (!this.loaded || this.order.has(id)));
    if (missing.length === 0) return;
    const found = new Set<string>();
    for (const row of this.prefetchStatement.all(JSON.stringify(missing)) as [number, ...StoredParts][]) {
      const record = parseRecord(row, 1);
      found.add(record.deviceId);
      this.remember(record, row[0], true);
    }
    this.rememberAbsent(missing.filter((id) => !found.has(id)));
  }

  /**
   * Reads the records of `deviceIds` not cached in one statement, by the rowids the registry order
   * holds, for one batch of work (a twin-job slice about to update each): one SELECT instead of
   * one per device, and the records lent to get() and saveTwin() until endBatch() rather than
   * entered in the cache. A job over 100,000 devices touched once would otherwise push the
   * devices in use out of the cache, and each record it read would live long enough to be
   * promoted and collected as old (the cache's churn and that GC were a fifth of the job).
   * Before the order has loaded, and for ids it does not know, get() reads them as it always does.
   */
  readBatch(deviceIds: readonly string[]): void {
    this.batch = undefined;
    if (!this.db.open || !this.loaded) return;
    const rowids: number[] = [];
    for (const id of deviceIds) {
      const slot = this.order.get(id);
      if (typeof slot === 'number') rowids.push(slot);
    }
    if (rowids.length === 0) return;
    const batch = new Map<string, Cached>();
    for (const row of this.batchStatement.all(JSON.stringify(rowids)) as [number, ...StoredParts][]) {
      const record = parseRecord(row, 1);
      // The id too, as get() checks: a rowid gone stale must not lend another device's record.
      if (this.order.get(record.deviceId) === row[0]) batch.set(record.deviceId, entryOf(record, row[0]));
    }
    this.batch = batch;
  }

  /** The batch's records are no longer lent: a later get() reads them from SQLite, with what was saved. */
  endBatch(): void {
    this.batch = undefined;
  }

  /** How many devices are enabled (status is an indexed column of the table, migration 9). */
  enabledCount(): number {
    return this.count - (this.notEnabledStatement.get() as number);
  }

  /**
   * Every device id in registry order, without reading a record: once the order is loaded a live
   * walk over it (ids added later come at the end, deleted ones are skipped, as a Map iterator
   * does), until then the list SQLite holds now.
   */
  idsInOrder(): Iterable<string> {
    return this.loaded ? this.order.keys() : this.ids();
  }

  /** Every device id, in registry order, without reading a record. */
  ids(): string[] {
    if (this.loaded) return Array.from(this.order.keys());
    return this.idsStatement.all() as string[];
  }

  /**
   * Every record in registry order, or those after `afterDeviceId` (a page resuming), read from
   * SQLite a chunk at a time. Cached records are returned as they are; the others are parsed and
   * kept only while the cache has room, so a scan over more devices than the cache holds does
   * not push the devices in use out of it.
   */
  all(afterDeviceId?: string): IterableIterator<DeviceRecord> {
    return this.loaded ? this.allInMemoryOrder(afterDeviceId) : this.allFromSqlite(afterDeviceId);
  }

  /** The scan once the order is loaded: a Map iteration, which sees deletes and appends made meanwhile. */
  private *allInMemoryOrder(afterDeviceId: string | undefined): IterableIterator<DeviceRecord> {
    if (afterDeviceId === undefined) {
      // Values only: no entry array per device (a scan over 100,000 cached twins is ~0.1 µs each).
      for (const value of this.order.values()) {
        const record = typeof value === 'number' ? this.readForScan(value) : value.record;
        if (record) yield record;
      }
      return;
    }
    if (!this.order.has(afterDeviceId)) return;
    let passing = true;
    for (const [deviceId, value] of this.order) {
      if (passing) {
        if (deviceId === afterDeviceId) passing = false;
        continue;
      }
      const record = typeof value === 'number' ? this.readForScan(value) : value.record;
      if (record) yield record;
    }
  }

  /** A record a scan reaches that is not cached: parsed, and kept only while the cache has room. */
  private readForScan(rowid: number): DeviceRecord | undefined {
    if (!this.db.open) return undefined;
    const row = this.byRowidStatement.get(rowid) as StoredParts | undefined;
    if (row === undefined) return undefined;
    const record = parseRecord(row, 0);
    if (this.cache.size < this.capacity) this.remember(record, rowid, false);
    return record;
  }

  /** The scan while the order loads: SQLite a chunk at a time. */
  private *allFromSqlite(afterDeviceId: string | undefined): IterableIterator<DeviceRecord> {
    let after = 0;
    if (afterDeviceId !== undefined) {
      const rowid = this.rowidStatement.get(afterDeviceId) as number | undefined;
      if (rowid === undefined) return;
      after = rowid;
    }
    // Smaller chunks while the caller writes between records (each write makes the rest of a chunk suspect).
    let chunk = DEVICE_SCAN_CHUNK_ROWS;
    for (;;) {
      if (!this.db.open) return;
      const writesAtRead = this.writes;
      const rows = this.chunkStatement.all(after, chunk) as [number, string][];
      for (const [rowid, deviceId] of rows) {
        // Something was written since the chunk was read (by the caller, between two records):
        // read on from here rather than yield a row that may be stale or deleted.
        if (this.writes !== writesAtRead) break;
        after = rowid;
        const cached = this.cache.get(deviceId);
        if (cached) {
          yield cached.record;
          continue;
        }
        const record = this.readForScan(rowid);
        if (record) yield record;
      }
      if (this.writes === writesAtRead) {
        if (rows.length < chunk) return;
        chunk = Math.min(DEVICE_SCAN_CHUNK_ROWS, chunk * 2);
      } else chunk = Math.max(8, chunk >> 2);
    }
  }

  save(record: DeviceRecord): void {
    // Connections closing while the hub stops still report in; the store is already closed then.
    if (!this.db.open) return;
    this.commit([record]);
  }

  /**
   * Saves a twin write (docs/protocol.md §2): only the twin parts in `parts`, the twin's version
   * and etag, and the live fields if they changed (as a whole-record save would carry them), in
   * the device's `device_twins` row, written through before the caller answers as save() is.
   * Serialising the whole record was most of a twin write's cost. A record that is not the cached
   * one, whose status moved unsaved, or whose row is gone takes the whole-record path.
   */
  saveTwin(record: DeviceRecord, parts: TwinParts): void {
    if (!this.db.open) return;
    const lent = this.batch?.get(record.deviceId);
    const cached = this.cache.get(record.deviceId) ?? lent;
    if (!cached || cached.record !== record || cached.status !== record.status) return this.commit([record]);
    // In memory a cached record keeps the write until it leaves the cache (holdTwinWrites); a
    // lent one (readBatch) leaves with its batch, so it is always written.
    if (this.holdTwinWrites && cached !== lent) {
      cached.twinHeld = true;
      this.writes++;
      this.hooks.changed(record.deviceId, record, liveFields(record) === cached.persisted ? parts : undefined);
      return;
    }
    // The row must still be this device's, so a rowid gone stale could never write another
    // device's twin: a lent record's was read with its id in this same synchronous batch, a
    // cached one's is looked up (the check inside the write cost a twin job ~6 µs a device).
    if (cached !== lent && this.deviceIdAtStatement.get(cached.rowid) !== record.deviceId) return this.commit([record]);
    const twin = record.twin;
    const live = liveFields(record);
    const liveChanged = live !== cached.persisted;
    const shape = (parts.tags ? 1 : 0) | (parts.desired ? 2 : 0) | (parts.reported ? 4 : 0) | (liveChanged ? 8 : 0);
    const values: unknown[] = [twin.version, twin.etag];
    if (parts.tags) values.push(JSON.stringify(twin.tags));
    if (parts.desired) values.push(JSON.stringify(twin.desired));
    if (parts.reported) values.push(JSON.stringify(twin.reported));
    if (liveChanged) values.push(JSON.stringify(liveValues(record)));
    values.push(cached.rowid);
    this.twinStatement(shape).run(...values);
    this.writes++;
    cached.persisted = live;
    // Told after the change is on disk, as commit() tells them: which parts, unless the live
    // fields went too (connectionState is one of them, and indexable).
    this.hooks.changed(record.deviceId, record, liveChanged ? undefined : parts);
  }

  /**
   * saveTwin for many records in one transaction (a savepoint inside a caller's): a twin-update
   * job's slice writes each twin's changed parts rather than each whole record. Records saveTwin
   * would save whole are saved whole, in the same transaction.
   */
  saveTwins(records: readonly DeviceRecord[], parts: readonly TwinParts[]): void {
    if (!this.db.open || records.length === 0) return;
    this.saveTwinsAll(records, parts);
  }

  private twinStatement(shape: number): Statement {
    let statement = this.twinStatements[shape];
    if (statement) return statement;
    const columns = ['version', 'etag'];
    if (shape & 1) columns.push('tags');
    if (shape & 2) columns.push('desired');
    if (shape & 4) columns.push('reported');
    if (shape & 8) columns.push('live');
    // The device's twin row, made by the first part-wise write (its other parts NULL: still those
    // inside `record`), else the parts named written over it.
    statement = this.db.prepare(
      `INSERT INTO device_twins (${columns.join(', ')}, device_rowid) VALUES (${columns.map(() => '?').join(', ')}, ?) ` +
        `ON CONFLICT(device_rowid) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(', ')}`,
    );
    this.twinStatements[shape] = statement;
    return statement;
  }

  /**
   * Up to `limit` devices after rowid `after` (0: the first), in registry order, for the
   * background build of declared query indexes (docs/scaling.md §3.2). A cached record is
   * returned as it is (it may hold changes kept in memory only); any other is a partial record
   * holding only its id, status, connection state (Disconnected, as every record read from disk)
   * and the twin parts `parts` names, read from their columns or by SQLite out of `record` (either form, device-codec.ts)
   * without parsing the rest of it in JavaScript. Nothing is cached. `next` is where the
   * following slice starts, undefined when no rows are left.
   */
  indexSlice(after: number, limit: number, parts: TwinParts): { records: DeviceRecord[]; next: number | undefined } {
    if (!this.db.open) return { records: [], next: undefined };
    const shape = (parts.tags ? 1 : 0) | (parts.desired ? 2 : 0) | (parts.reported ? 4 : 0);
    let statement = this.sliceStatements[shape];
    if (statement === undefined) {
      // A part saved on its own replaces the one inside `record` (device_twins, migrations.ts; parseRecord).
      const columns = ['d.rowid', 'd.device_id', 'd.status'];
      if (shape & 1) columns.push(`coalesce(t.tags, ${twinPartSql('d.record', 'tags')})`);
      if (shape & 2) columns.push(`coalesce(t.desired, ${twinPartSql('d.record', 'desired')})`);
      if (shape & 4) columns.push(`coalesce(t.reported, ${twinPartSql('d.record', 'reported')})`);
      // Without a part to read, no twin row is looked up.
      const from = shape === 0 ? 'devices d' : STORED;
      statement = this.db.prepare(`SELECT ${columns.join(', ')} FROM ${from} WHERE d.rowid > ? ORDER BY d.rowid LIMIT ?`).raw();
      this.sliceStatements[shape] = statement;
    }
    const rows = statement.all(after, limit) as [number, string, string, ...(string | null)[]][];
    const part = (row: readonly unknown[], at: number): never => parsePart(row[at] as string | null);
    const records: DeviceRecord[] = [];
    for (const row of rows) {
      const cached = this.cache.get(row[1]);
      if (cached) {
        records.push(cached.record);
        continue;
      }
      let at = 3;
      const empty = { properties: {} };
      const twin = {
        tags: shape & 1 ? part(row, at++) : {},
        desired: shape & 2 ? part(row, at++) : empty,
        reported: shape & 4 ? part(row, at++) : empty,
      };
      records.push({ deviceId: row[1], status: row[2], connectionState: 'Disconnected', twin } as unknown as DeviceRecord);
    }
    return { records, next: rows.length < limit ? undefined : rows[rows.length - 1]![0] };
  }

  /**
   * Saves `records` and deletes `deviceIds` in one transaction (bulk registry calls, twin-job
   * batches): on disk and in the cache, either all of it happened or none. Inside a caller's
   * transaction it is a savepoint of that one. A saved record replaces the cached one; a record
   * not cached (a device just created) is written around the cache: registering 1,000,000
   * devices fills the disk, not the memory.
   */
  commit(records: readonly DeviceRecord[], deviceIds: readonly string[] = []): void {
    if (records.length === 0 && deviceIds.length === 0) return;
    const texts = records.map(encodeDevice);
    this.count += this.commitAll(texts, records, deviceIds);
    this.writes++;
    // New rows beyond what the background load has read reach the order through it, in rowid order.
    for (const [id, rowid] of this.inserted) {
      const cached = this.cache.get(id);
      if (cached) cached.rowid = rowid;
      if (rowid <= this.loadedUpTo) this.order.set(id, cached ?? rowid);
    }
    this.inserted = [];
    for (const record of records) {
      const cached = this.cache.get(record.deviceId) ?? this.batch?.get(record.deviceId);
      if (cached) {
        cached.record = record;
        cached.persisted = liveFields(record);
        cached.status = record.status;
        // The whole record was written, its twin as it is now with it.
        cached.twinHeld = false;
      }
    }
    for (const id of deviceIds) {
      this.cache.delete(id);
      this.batch?.delete(id);
      this.order.delete(id);
      this.dependents?.forgetDevice(id);
    }
    // Told after the change is on disk and in the cache (change-hook.ts): the query indexes.
    for (const record of records) this.hooks.changed(record.deviceId, record);
    for (const id of deviceIds) this.hooks.changed(id, undefined);
  }

  /**
   * Writes back every cached record whose in-memory-only fields (connection state and times, the
   * model id, the C2D count) changed since it was last written, or whose twin write was held, in
   * one transaction: what eviction does one record at a time, for all of them (the hub's graceful
   * stop, docs/protocol.md §18).
   */
  writeBackUnsaved(): void {
    if (!this.db.open) return;
    const changed = [...this.cache.values()].filter(unsaved);
    if (changed.length === 0) return;
    this.db.transaction(() => {
      for (const cached of changed) this.updateWithStatusStatement.run(encodeDevice(cached.record), cached.record.status, cached.record.deviceId);
    })();
    for (const cached of changed) {
      cached.persisted = liveFields(cached.record);
      cached.twinHeld = false;
    }
    this.writes++;
  }

  delete(deviceId: string): boolean {
    const had = this.has(deviceId);
    this.commit([], [deviceId]);
    return had;
  }

  clear(): void {
    this.clearTwinsStatement.run();
    this.clearStatement.run();
    this.dependents?.clear();
    this.cache.clear();
    this.batch = undefined;
    this.order.clear();
    // Nothing left to load.
    if (this.loader) clearImmediate(this.loader);
    this.loader = undefined;
    this.loaded = true;
    this.loadedUpTo = Number.POSITIVE_INFINITY;
    this.count = 0;
    this.writes++;
    this.hooks.cleared();
  }

  private isKnownAbsent(deviceId: string): boolean {
    return this.absentAt === this.writes && this.absent.has(deviceId);
  }

  private rememberAbsent(deviceIds: readonly string[]): void {
    if (this.absentAt !== this.writes) {
      this.absent.clear();
      this.absentAt = this.writes;
    }
    for (const id of deviceIds) this.absent.add(id);
  }

  /** Puts an entry at the cache's most recent end (every `cache.set` goes through here, for `get`'s count). */
  private place(deviceId: string, entry: Cached): void {
    entry.placed = ++this.placements;
    this.cache.set(deviceId, entry);
  }

  /** Caches a record read from SQLite; `evict` makes room by dropping the least recently used. */
  private remember(record: DeviceRecord, rowid: number, evict: boolean): void {
    const entry = entryOf(record, rowid);
    this.place(record.deviceId, entry);
    // Only where the order already has the id: while it loads, an id not reached yet must not jump the queue.
    if (this.order.has(record.deviceId)) this.order.set(record.deviceId, entry);
    if (evict && this.cache.size > this.capacity) this.evictOne();
  }

  /**
   * Drops the least recently used record that is not connected (a connection reads its record
   * on every publish and changes it in memory). When every cached device is connected the
   * cache grows past its capacity instead.
   */
  private evictOne(): void {
    for (let looked = 0; looked < 64; looked++) {
      // Everything before the iterator was evicted or moved to the end (a Map iterator survives
      // deletes and sees entries set again later), so it stays at the least recently used entry.
      let next = this.lru?.next();
      if (next === undefined || next.done) {
        this.lru = this.cache.entries();
        next = this.lru.next();
        if (next.done) return;
      }
      const [deviceId, cached] = next.value;
      const record = cached.record;
      this.cache.delete(deviceId);
      if (record.connectionState === 'Connected') {
        this.place(deviceId, cached);
        continue;
      }
      // Live fields changed in memory only, or a held twin write, would be lost with the object: write them back.
      if (unsaved(cached) && this.db.open) {
        this.updateWithStatusStatement.run(encodeDevice(record), record.status, deviceId);
        this.writes++;
      }
      if (this.order.get(deviceId) === cached) this.order.set(deviceId, cached.rowid);
      return;
    }
  }
}

function entryOf(record: DeviceRecord, rowid: number): Cached {
  return { record, rowid, persisted: liveFields(record), status: record.status, twinHeld: false, placed: 0 };
}

/** Whether a cached record holds something its stored row does not. */
function unsaved(cached: Cached): boolean {
  return cached.twinHeld || liveFields(cached.record) !== cached.persisted;
}

/**
 * A stored record as the hub holds it (`row` from `at` is STORED_COLUMNS): the record text with the
 * parts saved on their own laid over it. Nothing is connected to a record just read from disk.
 */
function parseRecord(row: readonly unknown[], at: number): DeviceRecord {
  const [text, tags, desired, reported, version, etag, live] = (at === 0 ? row : row.slice(at)) as StoredParts;
  const record = decodeDevice(text);
  if (version !== null) {
    const twin = record.twin;
    if (tags !== null) twin.tags = JSON.parse(tags);
    if (desired !== null) twin.desired = JSON.parse(desired);
    if (reported !== null) twin.reported = JSON.parse(reported);
    twin.version = version;
    twin.etag = etag!;
    if (live !== null) {
      const [connectionStateUpdatedTime, lastActivityTime, modelId, cloudToDeviceMessageCount] = JSON.parse(live) as LiveValues;
      record.connectionStateUpdatedTime = connectionStateUpdatedTime;
      record.lastActivityTime = lastActivityTime;
      record.modelId = modelId;
      record.cloudToDeviceMessageCount = cloudToDeviceMessageCount;
    }
  }
  record.connectionState = 'Disconnected';
  return record;
}

/** A twin part as indexSlice reads it (JSON text; SQL NULL where the record has none). */
function parsePart(text: string | null): never {
  return (text === null ? {} : JSON.parse(text)) as never;
}

/** The live fields a twin write carries with it (connectionState is not: every record read is Disconnected). */
type LiveValues = [string, string, string, number];

function liveValues(record: DeviceRecord): LiveValues {
  return [record.connectionStateUpdatedTime, record.lastActivityTime, record.modelId, record.cloudToDeviceMessageCount];
}

/** The fields the hub changes without writing the record (see DeviceStore). */
function liveFields(record: DeviceRecord): string {
  return `${record.connectionState}|${record.connectionStateUpdatedTime}|${record.lastActivityTime}|${record.modelId}|${record.cloudToDeviceMessageCount}`;
}
