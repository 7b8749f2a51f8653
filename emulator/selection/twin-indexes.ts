import type { IndexTerm, Primitive } from '../query/index.js';
import type { ChangeHook, TwinParts } from '../store/change-hook.js';
import { QUERY_MAX_INDEXES } from '../limits.js';
import { candidateKeys, pathId, pathsOf } from './candidates.js';
import { PathIndex } from './path-index.js';
import type { RecordReader } from './record-paths.js';
import { RegistryOrder } from './registry-order.js';

/** Which paths queries get indexes for (docs/scaling.md §3.2; `--query-index`, `--query-index-after`). */
export interface QueryIndexSettings {
  /** false: no index at all, every query scans (the baseline the benches compare with) */
  readonly enabled: boolean;
  /** lower-cased paths indexed from the first query of a collection on, e.g. ['tags', 'env'] */
  readonly declared: readonly (readonly string[])[];
  /** queries that must name a path before it is indexed on demand; 0: only declared paths */
  readonly after: number;
  /**
   * When the declared indexes are built (`--query-index-build`): 'background' from start on, in
   * slices between other work; 'first-query' by the first query, in one pass (the older way).
   */
  readonly build?: QueryIndexBuild;
  /** the background build's slices (default QUERY_INDEX_BUILD_SLICE_*): tests make them small and slow */
  readonly buildSlice?: QueryIndexBuildSlice;
}

/** How the background build cuts its work: each slice up to `ms` long, `records` read per statement, `pauseMs` between slices (0: the next turn). */
export interface QueryIndexBuildSlice {
  readonly ms: number;
  readonly records: number;
  readonly pauseMs?: number;
}

export type QueryIndexBuild = 'background' | 'first-query';

export const DEFAULT_QUERY_INDEX_SETTINGS: QueryIndexSettings = { enabled: true, declared: [], after: 1, build: 'background' };

/** One slice of the background build's read: records holding at least what its paths read, and where the next slice starts. */
export interface RecordSlice<R> {
  readonly records: readonly R[];
  /** where the next slice resumes, or undefined: the store has no more */
  readonly next: number | undefined;
}

/** What the index set reads of its store. */
export interface RecordSource<R> {
  all(): Iterable<R>;
  get(key: string): R | undefined;
  keyOf(record: R): string;
  /** the reader of an indexable path, or undefined */
  reader(path: readonly string[]): RecordReader<R> | undefined;
  /**
   * Every key in registry order without reading a record (the order is numbered from it, else
   * from all()). Once keysReady() it is live: walked across event-loop turns it yields the keys
   * added meanwhile (at the end) and skips those deleted, as a Map iterator does.
   */
  keys?(): Iterable<string>;
  /** Whether keys() is cheap and live now (the background build waits for it, a query does not). */
  keysReady?(): boolean;
  /**
   * The background build's read (else it walks all()): up to `limit` records after `cursor`
   * (0: the start), in registry order, each the current one or a partial one holding at least what
   * `paths` read. A record deleted meanwhile is not in it; one changed meanwhile is as it is now.
   */
  slice?(cursor: number, limit: number, paths: readonly (readonly string[])[]): RecordSlice<R>;
}

/** A group of a COUNT() … GROUP BY answered from an index: its first record in registry order and its size. */
export interface IndexGroup<R> {
  readonly first: R | undefined;
  readonly count: number;
}

/** The declared indexes while the background build fills them (docs/scaling.md §3.2). */
interface Building<R> {
  readonly fresh: PathIndex<R>[];
  /** where the store's next slice starts (RecordSource.slice) */
  cursor: number;
  /** the walk over all() where the store has no slice() */
  walk: Iterator<R> | undefined;
  timer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  readonly waiting: (() => void)[];
}

/**
 * The registry order and the path indexes of one collection (devices, or module twins), kept up
 * to date by the store's change hook. The order is numbered from the store's keys at the first
 * query (from its records where it has no keys()). Declared indexes are built in the background
 * after start (`background`, startBackgroundBuild): slices of SQLite reads between other work,
 * each slice's records current when read, while the change hook keeps what was already filed
 * current; a query that needs them before they are done finishes the build first
 * (DeviceSelection.indexesBuilding lets the REST face wait instead). With `first-query` the first
 * query builds them in one pass. An index on demand reads the store once, for one path. An index
 * only ever narrows the rows a query looks at: DeviceSelection applies the compiled query to
 * every candidate, so answers are the scan's.
 */
export class TwinIndexes<R> implements ChangeHook<R> {
  private order: RegistryOrder | undefined;
  private readonly indexes = new Map<string, PathIndex<R>>();
  private readonly uses = new Map<string, number>();
  private building: Building<R> | undefined;
  /** the store's keys while the background build numbers the order from them, a slice at a time */
  private numbering: Iterator<string> | undefined;
  private declaredPending: boolean;
  private stopped = false;

  constructor(
    private readonly source: RecordSource<R>,
    private readonly settings: QueryIndexSettings,
  ) {
    this.declaredPending = settings.enabled && settings.declared.length > 0;
  }

  /** The registry order, numbered from the store at the first use. */
  ordered(): RegistryOrder {
    // Being numbered in the background: the rest at once.
    if (this.numbering) this.number(Number.POSITIVE_INFINITY);
    if (this.order === undefined) {
      const order = new RegistryOrder();
      this.order = order;
      if (this.source.keys) {
        for (const key of this.source.keys()) order.add(key);
      } else {
        for (const record of this.source.all()) order.add(this.source.keyOf(record));
      }
      // The declared indexes, if no background build has begun: filled in one pass now.
      if (this.declaredPending && this.building === undefined) {
        this.declaredPending = false;
        this.build(this.settings.declared);
      }
    }
    return this.order;
  }

  /**
   * Begins building the declared indexes in the background (`--query-index-build background`):
   * once the store's keys are cheap to read, the order is numbered from them and the indexes
   * are filled a slice per event-loop turn, each slice about `slices.ms` long at most.
   */
  startBackgroundBuild(slices: QueryIndexBuildSlice): void {
    if (!this.declaredPending || this.building !== undefined) return;
    const building: Building<R> = { fresh: this.freshIndexes(this.settings.declared), cursor: 0, walk: undefined, timer: undefined, waiting: [] };
    if (building.fresh.length === 0) {
      this.declaredPending = false;
      return;
    }
    this.building = building;
    const step = (): void => {
      building.timer = undefined;
      if (this.building !== building || this.stopped) return;
      if (this.order === undefined) {
        if (this.source.keysReady && !this.source.keysReady()) {
          building.timer = setTimeout(step, 5);
          return;
        }
        // Numbered from the store's live keys a slice at a time, like the fill after it.
        if (this.source.keys) {
          this.order = new RegistryOrder();
          this.numbering = this.source.keys()[Symbol.iterator]();
        }
      }
      if (this.numbering) {
        // Numbering a key is ~16× cheaper than reading its row: checked for time as often.
        if (!this.number(slices.ms, slices.records * 16)) {
          building.timer = setImmediate(step);
          return;
        }
      } else this.ordered();
      if (this.fill(building, slices.ms, slices.records)) return;
      building.timer = slices.pauseMs ? setTimeout(step, slices.pauseMs) : setImmediate(step);
    };
    building.timer = setImmediate(step);
  }

  /** Whether declared indexes are still being built (a query naming them would finish the build first). */
  get buildingDeclared(): boolean {
    return this.building !== undefined;
  }

  /** Resolves once the declared indexes are built (at once when they are). */
  whenBuilt(): Promise<void> {
    const building = this.building;
    if (building === undefined) return Promise.resolve();
    return new Promise((resolve) => building.waiting.push(resolve));
  }

  /**
   * Stops a background build for good (the hub stopping: its connections close, so the queries
   * waiting for it are not answered, rather than each finishing the build on its way out).
   */
  stopBuild(): void {
    const building = this.building;
    if (building === undefined) return;
    if (building.timer !== undefined) {
      clearTimeout(building.timer as NodeJS.Timeout);
      clearImmediate(building.timer as NodeJS.Immediate);
    }
    building.timer = undefined;
    building.waiting.length = 0;
    this.stopped = true;
  }

  /**
   * Numbers the next keys of the store's live walk for `ms`; true once the walk has ended. Until
   * then a change to a key not numbered yet is left to the walk (it reaches every key that
   * exists, a new one at the end) and to the fill after it.
   */
  private number(ms: number, chunk = 4096): boolean {
    const walk = this.numbering!;
    const order = this.order!;
    const until = performance.now() + ms;
    for (;;) {
      for (let n = 0; n < chunk; n++) {
        const next = walk.next();
        if (next.done) {
          this.numbering = undefined;
          return true;
        }
        order.add(next.value);
      }
      if (performance.now() >= until) return false;
    }
  }

  /** Finishes the background build now, in one go (a query needs the indexes). */
  private finishBuild(): void {
    const building = this.building;
    if (building === undefined || this.stopped) return;
    if (building.timer !== undefined) {
      clearTimeout(building.timer as NodeJS.Timeout);
      clearImmediate(building.timer as NodeJS.Immediate);
      building.timer = undefined;
    }
    this.ordered();
    this.fill(building, Number.POSITIVE_INFINITY, 4096);
  }

  /**
   * Files the next records of the build in the fresh indexes until `ms` have passed; true when
   * the store has no more (the indexes are then in use). Each record is the store's current one
   * when read, and the change hook has filed every change since the order was numbered, so a
   * record changed before the build reaches it is read as it is now and one changed after is
   * filed by the hook; a key deleted is in neither.
   */
  private fill(building: Building<R>, ms: number, sliceRecords: number): boolean {
    const until = performance.now() + ms;
    const paths = building.fresh.map((i) => i.path);
    for (;;) {
      let done: boolean;
      if (this.source.slice) {
        const slice = this.source.slice(building.cursor, sliceRecords, paths);
        for (const record of slice.records) {
          const key = this.source.keyOf(record);
          // Not in the order: deleted since it was numbered (the hook filed that) — nothing to file.
          if (!this.order!.has(key)) continue;
          for (const index of building.fresh) index.set(key, record);
        }
        done = slice.next === undefined;
        if (!done) building.cursor = slice.next!;
      } else {
        building.walk ??= this.source.all()[Symbol.iterator]();
        done = false;
        for (let n = 0; n < sliceRecords; n++) {
          const next = building.walk.next();
          if (next.done) {
            done = true;
            break;
          }
          const key = this.source.keyOf(next.value);
          for (const index of building.fresh) index.set(key, next.value);
        }
      }
      if (done) {
        this.building = undefined;
        this.declaredPending = false;
        for (const index of building.fresh) this.indexes.set(pathId(index.path), index);
        for (const resolve of building.waiting) resolve();
        return true;
      }
      if (performance.now() >= until) return false;
    }
  }

  get(key: string): R | undefined {
    return this.source.get(key);
  }

  /** Whether indexes are on at all (off: the scan baseline). */
  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** The paths indexed now (lower-cased, dot-joined), for diagnostics and tests. */
  indexedPaths(): string[] {
    return [...this.indexes.values()].map((i) => i.path.join('.'));
  }

  changed(key: string, record: R | undefined, parts?: Readonly<TwinParts>): void {
    // Before the first query nothing is derived yet: the first query reads the store as it is then.
    if (this.order === undefined) return;
    // Not numbered yet while the order is numbered: the walk will reach it if it still exists.
    if (this.numbering && !this.order.has(key)) return;
    if (record === undefined) this.order.remove(key);
    else this.order.add(key);
    // `parts`: only the twin parts named changed, so only the paths under them are read again.
    for (const index of this.indexes.values()) if (index.reachedBy(parts)) index.set(key, record);
    // The indexes the background build is filling: a change reaches them whether or not the build has read the key yet.
    if (this.building) for (const index of this.building.fresh) if (index.reachedBy(parts)) index.set(key, record);
  }

  cleared(): void {
    this.order?.clear();
    // A walk over keys that are gone: begun again over the (empty) store.
    if (this.numbering && this.source.keys) this.numbering = this.source.keys()[Symbol.iterator]();
    for (const index of this.indexes.values()) index.clear();
    if (this.building) for (const index of this.building.fresh) index.clear();
  }

  /**
   * The sequence numbers (registry order, ascending) of the records `terms` allows, or undefined
   * when a scan is cheaper: a path without an index, or more than `cap` candidates.
   */
  candidates(terms: IndexTerm | undefined, cap: number, counted = false): Float64Array | undefined {
    if (terms === undefined || !this.settings.enabled) return undefined;
    const order = this.ordered();
    this.finishBuild();
    // `counted`: exactly() already counted this query's use of its paths.
    if (!counted) this.build([...pathsOf(terms).values()].filter((path) => this.used(path)));
    return this.keysToSeqs(
      order,
      candidateKeys(terms, (path) => this.indexes.get(pathId(path)) as PathIndex<unknown> | undefined, cap),
    );
  }

  /**
   * The sequence numbers (ascending) of exactly the records `terms` allow, when terms that say
   * exactly what a WHERE does (Query.termsExact) meet an exact index on every path they name (one
   * primitive value per key): the query's answer without reading a record. Undefined otherwise
   * (the caller asks candidates() with `counted`: the use of the paths is counted here).
   */
  exactly(terms: IndexTerm): Float64Array | undefined {
    if (!this.settings.enabled) return undefined;
    this.finishBuild();
    const order = this.ordered();
    const paths = [...pathsOf(terms).values()];
    this.build(paths.filter((path) => this.used(path)));
    if (!paths.every((path) => this.indexes.get(pathId(path))?.exact)) return undefined;
    return this.keysToSeqs(
      order,
      candidateKeys(terms, (path) => this.indexes.get(pathId(path)) as PathIndex<unknown> | undefined, Number.POSITIVE_INFINITY),
    );
  }

  private keysToSeqs(order: RegistryOrder, keys: string[] | undefined): Float64Array | undefined {
    if (keys === undefined) return undefined;
    const seqs = new Float64Array(keys.length);
    let n = 0;
    for (const key of keys) {
      const seq = order.seqOf(key);
      if (seq !== undefined) seqs[n++] = seq;
    }
    const sorted = seqs.subarray(0, n).sort();
    // OR of overlapping operands (or a key under two case variants) can name a key twice.
    let unique = 0;
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[unique++] = sorted[i]!;
    return sorted.subarray(0, unique);
  }

  /**
   * Counts per value of a path in order of first appearance (COUNT() … GROUP BY without WHERE), or
   * undefined when the index cannot say exactly (a twin holding an object there, or case variants
   * of a name): the caller scans.
   */
  groups(path: readonly string[]): IndexGroup<R>[] | undefined {
    if (!this.settings.enabled) return undefined;
    const order = this.ordered();
    this.finishBuild();
    const lower = path.map((s) => s.toLowerCase());
    if (this.used(lower)) this.build([lower]);
    const index = this.indexes.get(pathId(lower));
    if (index === undefined || !index.exact) return undefined;
    // Groups come in order of first appearance, as a scan finds them: walk the registry order
    // until every value (and, if some twins lack the path, the missing group) has been seen —
    // usually after a few twins, at worst once over the keys.
    const missing = order.size - index.size;
    const MISSING = Symbol('missing');
    let unseen = index.distinct + (missing > 0 ? 1 : 0);
    const seen = new Set<unknown>();
    const groups: IndexGroup<R>[] = [];
    for (let slot = 0; slot < order.end && unseen > 0; slot++) {
      const key = order.keyAtSlot(slot);
      if (key === undefined) continue;
      const v = index.valueAt(key);
      const group = v === undefined ? MISSING : v;
      if (seen.has(group)) continue;
      seen.add(group);
      unseen--;
      groups.push({ first: this.source.get(key), count: v === undefined ? missing : index.countOf([v as Primitive]) });
    }
    return groups;
  }

  /** Counts a query's use of a path; true when it is time to build its index (`after` queries named it). */
  private used(path: readonly string[]): boolean {
    const id = pathId(path);
    if (this.indexes.has(id) || this.settings.after <= 0 || this.source.reader(path) === undefined) return false;
    // A client naming ever new paths must not grow this without bound.
    if (this.uses.size > 10_000) this.uses.clear();
    const uses = (this.uses.get(id) ?? 0) + 1;
    this.uses.set(id, uses);
    return uses >= this.settings.after;
  }

  /** New indexes for those of `paths` not built yet, within QUERY_MAX_INDEXES. */
  private freshIndexes(paths: readonly (readonly string[])[]): PathIndex<R>[] {
    const fresh: PathIndex<R>[] = [];
    for (const path of paths) {
      const id = pathId(path);
      const reader = this.source.reader(path);
      if (reader === undefined || this.indexes.has(id) || fresh.some((i) => pathId(i.path) === id)) continue;
      if (this.indexes.size + fresh.length >= QUERY_MAX_INDEXES) break;
      fresh.push(new PathIndex<R>(path, reader));
    }
    return fresh;
  }

  /**
   * Builds the indexes of `paths` (those not built yet, within QUERY_MAX_INDEXES) in one pass over
   * the store: at a million twins every record visited is a cache miss, so each is visited once
   * for everything built.
   */
  private build(paths: readonly (readonly string[])[]): void {
    const fresh = this.freshIndexes(paths);
    if (fresh.length === 0) return;
    for (const record of this.source.all()) {
      const key = this.source.keyOf(record);
      for (const index of fresh) index.set(key, record);
    }
    for (const index of fresh) {
      const id = pathId(index.path);
      this.indexes.set(id, index);
      this.uses.delete(id);
    }
  }
}
