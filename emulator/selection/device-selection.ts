import type { DeviceRecord } from '../identity/device-record.js';
import { runQuery, type Query } from '../query/index.js';
import { isModuleRecord, moduleKey, type ModuleRecord } from '../identity/module-record.js';
import type { DeviceStore } from '../store/device-store.js';
import type { ModuleStore } from '../store/module-store.js';
import { twinView } from '../twin/twin-view.js';
import { formatCursor, parseCursor } from './cursor.js';
import { scanPage, sliceArray, type Page, type PageRequest } from './paging.js';
import { deviceReader, moduleReader } from './record-paths.js';
import { QUERY_INDEX_BUILD_SLICE_MS, QUERY_INDEX_BUILD_SLICE_RECORDS } from '../limits.js';
import type { TwinParts } from '../store/device-store.js';
import { DEFAULT_QUERY_INDEX_SETTINGS, TwinIndexes, type QueryIndexBuildSlice, type QueryIndexSettings } from './twin-indexes.js';

/** Device-job records in a stable order (the jobs component holds them): all after a rowid, or those of some devices. */
export type DeviceJobRecords = (deviceIds?: readonly string[], afterRowid?: number) => Iterable<{ rowid: number; record: object }>;

/**
 * "Select the devices a query names, page by page", written once: `POST /devices/query`, job
 * conditions and configurations all come here. Evaluates compiled queries (query/) over the twins
 * in registry order (docs/protocol.md §4.7). Where the WHERE compares indexed paths with constants
 * the twins come from the indexes (docs/scaling.md §3.2) instead of a scan, and the compiled query
 * still decides each one, so an index changes how fast, never what. A deviceIds hint reads
 * through the id index in the list's order. A later page resumes after the sequence number the
 * previous one ended on instead of evaluating everything before it.
 */
export class DeviceSelection {
  private readonly deviceIndexes: TwinIndexes<DeviceRecord>;
  private readonly moduleIndexes: TwinIndexes<ModuleRecord>;
  private readonly slices: QueryIndexBuildSlice | undefined;

  constructor(
    private readonly store: DeviceStore,
    private readonly modules: ModuleStore,
    settings: QueryIndexSettings = DEFAULT_QUERY_INDEX_SETTINGS,
  ) {
    this.deviceIndexes = new TwinIndexes<DeviceRecord>(
      {
        all: () => store.all(),
        get: (key) => store.get(key),
        keyOf: (record) => record.deviceId,
        reader: deviceReader,
        keys: () => store.idsInOrder(),
        keysReady: () => !store.loading,
        slice: (cursor, limit, paths) => store.indexSlice(cursor, limit, twinPartsOf(paths)),
      },
      settings,
    );
    this.moduleIndexes = new TwinIndexes<ModuleRecord>(
      { all: () => modules.all(), get: (key) => modules.getByKey(key), keyOf: moduleKeyOf, reader: moduleReader },
      settings,
    );
    store.onChange(this.deviceIndexes);
    modules.onChange(this.moduleIndexes);
    this.slices =
      settings.build === 'first-query' ? undefined : (settings.buildSlice ?? { ms: QUERY_INDEX_BUILD_SLICE_MS, records: QUERY_INDEX_BUILD_SLICE_RECORDS });
  }

  /**
   * Begins building the declared indexes in the background (docs/scaling.md §3.2), unless they
   * are built by the first query (`--query-index-build first-query`). The hub calls it once it
   * listens, so the build does not delay being ready.
   */
  startBackgroundBuilds(): void {
    if (this.slices === undefined) return;
    this.deviceIndexes.startBackgroundBuild(this.slices);
    this.moduleIndexes.startBackgroundBuild(this.slices);
  }

  /**
   * Resolves when the declared indexes `query` may use are built, or undefined when there is
   * nothing to wait for (docs/scaling.md §3.2): the REST face lets a query that arrives during
   * the background build wait for it without holding up other work, where a direct call would
   * finish the build at once.
   */
  indexesBuilding(query: Query): Promise<void> | undefined {
    if (query.deviceIds || (query.terms === undefined && query.counts?.groupBy === undefined)) return undefined;
    const indexes = query.source === 'devices' ? this.deviceIndexes : query.source === 'devices.modules' ? this.moduleIndexes : undefined;
    return indexes?.buildingDeclared ? indexes.whenBuilt() : undefined;
  }

  /** Stops the background builds (the hub stopping). */
  stop(): void {
    this.deviceIndexes.stopBuild();
    this.moduleIndexes.stopBuild();
  }

  /**
   * The device ids a job condition selects, in registry order. Jobs stay device-only as on the
   * hub (docs/jobs.md), so a `FROM devices.modules` condition (docs/protocol.md §4.6) selects nothing.
   */
  select(query: Query): string[] {
    if (query.source !== 'devices') return [];
    const ids: string[] = [];
    if (query.deviceIds) {
      for (const record of this.candidates(query)) if (query.matches(twinView(record))) ids.push(record.deviceId);
      return ids;
    }
    const known = this.idsOnly(this.deviceIndexes, query);
    if (known) return known;
    this.each(
      this.deviceIndexes,
      query,
      (key, record) => {
        if (query.matches(twinView(record))) ids.push(key);
      },
      query.termsExact,
    );
    return ids;
  }

  /**
   * The keys a query selects when the registry order and the indexes know them without a record
   * (no WHERE, or one the exact indexes answer whole: Query.termsExact), in registry order;
   * undefined when the twins must be evaluated. A twin job over 100,000 devices not in the cache
   * read, parsed and viewed each one here only to learn what the index already knew.
   */
  private idsOnly<R>(indexes: TwinIndexes<R>, query: Query): string[] | undefined {
    if (!indexes.enabled || query.deviceIds) return undefined;
    const order = indexes.ordered();
    const ids: string[] = [];
    if (query.everyRow) {
      for (let slot = 0; slot < order.end; slot++) {
        const key = order.keyAtSlot(slot);
        if (key !== undefined) ids.push(key);
      }
      return ids;
    }
    if (!query.termsExact || query.terms === undefined) return undefined;
    const seqs = indexes.exactly(query.terms);
    if (!seqs) return undefined;
    for (const seq of seqs) {
      const key = order.keyOf(seq);
      if (key !== undefined) ids.push(key);
    }
    return ids;
  }

  /**
   * The twins a condition selects, by connection key: device ids for `FROM devices`, and
   * `{deviceId}/{moduleId}` for `FROM devices.modules` (configurations target either).
   */
  selectKeys(query: Query): string[] {
    if (query.source === 'devices') return this.select(query);
    if (query.source !== 'devices.modules') return [];
    const keys: string[] = [];
    if (query.deviceIds) {
      for (const record of this.moduleCandidates(query)) if (query.matches(twinView(record))) keys.push(moduleKeyOf(record));
      return keys;
    }
    this.each(this.moduleIndexes, query, (key, record) => {
      if (query.matches(twinView(record))) keys.push(key);
    });
    return keys;
  }

  /** The service view of one twin by connection key, or undefined when it does not exist. */
  viewOf(key: string): object | undefined {
    const slash = key.indexOf('/');
    const record = slash < 0 ? this.store.get(key) : this.modules.getByKey(key);
    return record && twinView(record);
  }

  /** The paths with an index now, per collection (lower-cased, dot-joined): diagnostics and tests. */
  indexedPaths(): { devices: string[]; modules: string[] } {
    return { devices: this.deviceIndexes.indexedPaths(), modules: this.moduleIndexes.indexedPaths() };
  }

  /**
   * How many rows a full query yields (a configuration's metric queries), with each twin seen
   * through `decorate` (which adds the twin's `configurations` statuses).
   */
  count(query: Query, decorate: (key: string, view: object) => object): number {
    const rows: object[] = [];
    if (query.source === 'devices') this.rowsOf(this.deviceIndexes, query, (key, record) => rows.push(decorate(key, twinView(record))));
    else if (query.source === 'devices.modules') this.rowsOf(this.moduleIndexes, query, (key, record) => rows.push(decorate(key, twinView(record))));
    const result = runQuery(query, rows);
    // An aggregate (SELECT COUNT() …) yields one row holding the number.
    if (query.itemType === 'Raw' && result.length === 1) {
      const only = result[0] as Record<string, unknown>;
      const values = Object.values(only);
      if (values.length === 1 && typeof values[0] === 'number' && /count\s*\(/i.test(query.text)) return values[0];
    }
    return result.length;
  }

  /** One page of a query's results, over twins or (given the jobs component's records) device-job records. */
  page(query: Query, page: PageRequest, deviceJobs?: DeviceJobRecords): Page<unknown> {
    switch (query.source) {
      case 'devices': {
        if (query.itemType === 'Raw') return sliceArray(this.raw(this.deviceIndexes, query), page);
        // A deviceIds hint reads a handful of twins through the id index, in the list's order.
        if (query.deviceIds) return scanPage(query, this.candidates(query), twinView, undefined, undefined, page.offset, page);
        return this.twinPage(this.deviceIndexes, query, page);
      }
      case 'devices.jobs': {
        // A hub without a jobs component has no device-job records.
        if (!deviceJobs) return { items: [], more: false };
        if (query.deviceIds) {
          return scanPage(query, deviceJobs(query.deviceIds), (row) => row.record, undefined, undefined, page.offset, page);
        }
        // Device-job records resume after the last rowid, so paging a 10,000-device job reads each record once.
        const after = typeof page.after === 'number' ? page.after : undefined;
        return scanPage(
          query,
          deviceJobs(undefined, after),
          (row) => row.record,
          (row) => row.rowid,
          undefined,
          after === undefined ? page.offset : 0,
          page,
        );
      }
      case 'devices.modules': {
        if (query.itemType === 'Raw') return sliceArray(this.raw(this.moduleIndexes, query), page);
        if (query.deviceIds) return scanPage(query, this.moduleCandidates(query), twinView, undefined, undefined, page.offset, page);
        return this.twinPage(this.moduleIndexes, query, page);
      }
    }
  }

  /**
   * A SELECT * page in registry order: from the indexes' candidates when they answer the WHERE
   * with few enough twins, else by scanning, from the twin after the cursor either way (cursor.ts).
   * TOP bounds the whole result across pages; one match past a full page says another exists.
   */
  private twinPage<R extends DeviceRecord | ModuleRecord>(indexes: TwinIndexes<R>, query: Query, page: PageRequest): Page<object> {
    const order = indexes.ordered();
    let after = -1;
    let skip = page.offset;
    const cursor = parseCursor(page.after);
    if (cursor !== undefined) {
      const seq = 'epoch' in cursor && cursor.epoch === order.epoch ? cursor.seq : order.seqOf(cursor.key);
      // Neither (another hub run, and its last twin deleted since): count the results delivered.
      if (seq !== undefined) {
        after = seq;
        skip = 0;
      }
    }
    const allowed = (query.top ?? Number.POSITIVE_INFINITY) - page.offset;
    const seqs = indexes.candidates(query.terms, pagedCap(order.size, page.size));
    const n = seqs ? seqs.length : order.end;
    const items: object[] = [];
    let lastSeq = -1;
    let lastKey = '';
    for (let i = seqs ? firstAbove(seqs, after) : order.slotAfter(after); i < n; i++) {
      let seq: number;
      let key: string | undefined;
      if (seqs) {
        seq = seqs[i]!;
        key = order.keyOf(seq);
      } else {
        seq = order.seqAtSlot(i);
        key = order.keyAtSlot(i);
      }
      if (key === undefined) continue;
      const record = indexes.get(key);
      if (record === undefined) continue;
      const row = twinView(record);
      if (!query.matches(row)) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      if (items.length >= allowed) break;
      if (items.length === page.size) return { items, more: true, last: formatCursor({ epoch: order.epoch, seq: lastSeq, key: lastKey }) };
      items.push(row);
      lastSeq = seq;
      lastKey = key;
    }
    return { items, more: false };
  }

  /** Every result of a projection or aggregate: from counts per value when an index holds them, else over the matching twins. */
  private raw<R extends DeviceRecord | ModuleRecord>(indexes: TwinIndexes<R>, query: Query): unknown[] {
    const counts = query.counts;
    if (counts !== undefined) {
      if (counts.groupBy === undefined) {
        if (indexes.enabled) return counts.items([{ first: undefined, count: indexes.ordered().size }]);
      } else {
        const groups = indexes.groups(counts.groupBy);
        if (groups) return counts.items(groups.map((g) => ({ first: g.first && twinView(g.first), count: g.count })));
      }
    }
    const rows: object[] = [];
    this.rowsOf(indexes, query, (_key, record) => rows.push(twinView(record)));
    return runQuery(query, rows);
  }

  /** The twins a query may match, as `each`, or those its deviceIds hint names (in the list's order). */
  private rowsOf<R extends DeviceRecord | ModuleRecord>(indexes: TwinIndexes<R>, query: Query, visit: (key: string, record: R) => void): void {
    if (!query.deviceIds) {
      this.each(indexes, query, visit);
      return;
    }
    const records = query.source === 'devices' ? this.candidates(query) : this.moduleCandidates(query);
    for (const record of records) visit(isModuleRecord(record) ? moduleKeyOf(record) : record.deviceId, record as R);
  }

  /** Every twin the indexes leave for a full answer (all of them when they cannot narrow it), in registry order. */
  private each<R>(indexes: TwinIndexes<R>, query: Query, visit: (key: string, record: R) => void, counted = false): void {
    const order = indexes.ordered();
    const seqs = indexes.candidates(query.terms, fullCap(order.size), counted);
    if (seqs) {
      for (const seq of seqs) {
        const key = order.keyOf(seq);
        const record = key === undefined ? undefined : indexes.get(key);
        if (record !== undefined) visit(key!, record);
      }
      return;
    }
    for (let slot = 0; slot < order.end; slot++) {
      const key = order.keyAtSlot(slot);
      const record = key === undefined ? undefined : indexes.get(key);
      if (record !== undefined) visit(key!, record);
    }
  }

  /** Module twins in the hint's device order, through the per-device index. */
  private moduleCandidates(query: Query): Iterable<ModuleRecord> {
    if (!query.deviceIds) return this.modules.all();
    const records: ModuleRecord[] = [];
    for (const id of query.deviceIds) for (const record of this.modules.ofDevice(id)) records.push(record);
    return records;
  }

  /** The records a query can match: those its deviceIds hint names (in that order), else all. */
  private candidates(query: Query): Iterable<DeviceRecord> {
    if (!query.deviceIds) return this.store.all();
    const records: DeviceRecord[] = [];
    for (const id of query.deviceIds) {
      const record = this.store.get(id);
      if (record) records.push(record);
    }
    return records;
  }
}

/**
 * Candidates worth reading for one page: an index pays while its candidates are fewer than the
 * twins a scan would evaluate to fill the page (≈ size · total / candidates), so up to about
 * √(size · total), never fewer than 1,000 nor more than a quarter of the twins.
 */
function pagedCap(total: number, size: number): number {
  return Math.max(1000, Math.min(total / 4, 3 * Math.sqrt(size * total)));
}

/** Candidates worth reading for a full answer (jobs, configurations, aggregates): up to a quarter of the twins. */
function fullCap(total: number): number {
  return Math.max(1000, total / 4);
}

/** The first index of ascending `seqs` holding a value above `after`. */
function firstAbove(seqs: Float64Array, after: number): number {
  let lo = 0;
  let hi = seqs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (seqs[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The twin parts the background build reads for `paths` (the rest of a record it does not parse). */
function twinPartsOf(paths: readonly (readonly string[])[]): TwinParts {
  const parts: TwinParts = {};
  for (const [first, second] of paths) {
    if (first === 'tags') parts.tags = true;
    else if (first === 'properties' && second === 'desired') parts.desired = true;
    else if (first === 'properties' && second === 'reported') parts.reported = true;
  }
  return parts;
}

function moduleKeyOf(record: ModuleRecord): string {
  return moduleKey(record.deviceId, record.moduleId);
}
