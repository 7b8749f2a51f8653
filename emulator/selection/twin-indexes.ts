import type { IndexTerm, Primitive } from '../query/index.js';
import type { ChangeHook } from '../store/change-hook.js';
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
}

export const DEFAULT_QUERY_INDEX_SETTINGS: QueryIndexSettings = { enabled: true, declared: [], after: 1 };

/** What the index set reads of its store. */
export interface RecordSource<R> {
  all(): Iterable<R>;
  get(key: string): R | undefined;
  keyOf(record: R): string;
  /** the reader of an indexable path, or undefined */
  reader(path: readonly string[]): RecordReader<R> | undefined;
}

/** A group of a COUNT() … GROUP BY answered from an index: its first record in registry order and its size. */
export interface IndexGroup<R> {
  readonly first: R | undefined;
  readonly count: number;
}

/**
 * The registry order and the path indexes of one collection (devices, or module twins), kept up
 * to date by the store's change hook. Nothing is built at start: the first query reads the store
 * once for the order (and the declared indexes); an index on demand reads it once more, for one
 * path. An index only ever narrows the rows a query looks at: DeviceSelection applies the
 * compiled query to every candidate, so answers are the scan's.
 */
export class TwinIndexes<R> implements ChangeHook<R> {
  private order: RegistryOrder | undefined;
  private readonly indexes = new Map<string, PathIndex<R>>();
  private readonly uses = new Map<string, number>();

  constructor(
    private readonly source: RecordSource<R>,
    private readonly settings: QueryIndexSettings,
  ) {}

  /** The registry order, read from the store at the first use. */
  ordered(): RegistryOrder {
    if (this.order === undefined) {
      const order = new RegistryOrder();
      this.order = order;
      // One pass over the store numbers the keys and fills the declared indexes.
      this.build(this.settings.enabled ? this.settings.declared : [], order);
    }
    return this.order;
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

  changed(key: string, record: R | undefined): void {
    // Before the first query nothing is derived yet: the first query reads the store as it is then.
    if (this.order === undefined) return;
    if (record === undefined) this.order.remove(key);
    else this.order.add(key);
    for (const index of this.indexes.values()) index.set(key, record);
  }

  cleared(): void {
    this.order?.clear();
    for (const index of this.indexes.values()) index.clear();
  }

  /**
   * The sequence numbers (registry order, ascending) of the records `terms` allows, or undefined
   * when a scan is cheaper: a path without an index, or more than `cap` candidates.
   */
  candidates(terms: IndexTerm | undefined, cap: number, counted = false): Float64Array | undefined {
    if (terms === undefined || !this.settings.enabled) return undefined;
    const order = this.ordered();
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

  /**
   * Builds the indexes of `paths` (those not built yet, within QUERY_MAX_INDEXES) in one pass over
   * the store, numbering the keys too when `order` is new: at a million twins every record visited
   * is a cache miss, so each is visited once for everything built.
   */
  private build(paths: readonly (readonly string[])[], order?: RegistryOrder): void {
    const fresh: PathIndex<R>[] = [];
    for (const path of paths) {
      const id = pathId(path);
      const reader = this.source.reader(path);
      if (reader === undefined || this.indexes.has(id) || fresh.some((i) => pathId(i.path) === id)) continue;
      if (this.indexes.size + fresh.length >= QUERY_MAX_INDEXES) break;
      fresh.push(new PathIndex<R>(path, reader));
    }
    if (fresh.length === 0 && order === undefined) return;
    for (const record of this.source.all()) {
      const key = this.source.keyOf(record);
      order?.add(key);
      for (const index of fresh) index.set(key, record);
    }
    for (const index of fresh) {
      const id = pathId(index.path);
      this.indexes.set(id, index);
      this.uses.delete(id);
    }
  }
}
