import type { Bound, Primitive } from '../query/index.js';
import type { TwinParts } from '../store/change-hook.js';
import { twinPartOf, type RecordReader } from './record-paths.js';

/** The keys holding one value: a lone key as itself (most values of an id-like path), several as a Set. */
type Bucket = string | Set<string>;

/** A key whose path reaches several values (case variants of one name, record-paths.ts). */
class Several {
  constructor(readonly values: readonly unknown[]) {}
}

function isPrimitive(v: unknown): v is Primitive {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** The value(s) a key contributes, or undefined for none (the path is missing). */
function normalise(values: readonly unknown[]): unknown {
  if (values.length === 0) return undefined;
  if (values.length === 1) return values[0];
  return new Several(values);
}

/**
 * Values of one type kept sorted for ranges: built at the first range read, then new values are
 * merged in at the next read. Until a range asks, and again when changes outnumber the values,
 * nothing is tracked and the next read sorts the live values afresh.
 */
class SortedValues<T extends string | number> {
  private sorted: T[] | undefined;
  private pending: T[] = [];
  private stale = false;

  added(v: T): void {
    if (this.sorted === undefined) return;
    this.pending.push(v);
    if (this.pending.length > 1024 && this.pending.length > this.sorted.length) this.clear();
  }

  /** A value lost its last key: dropped at the next read. */
  removed(): void {
    this.stale = true;
  }

  clear(): void {
    this.sorted = undefined;
    this.pending = [];
    this.stale = false;
  }

  /** The sorted distinct values that still have keys; merging costs O(values + new · log new). */
  read(all: () => Iterable<T>, live: (v: T) => boolean): readonly T[] {
    if (this.sorted === undefined) {
      this.sorted = [...all()].sort(ascending);
      this.pending = [];
      this.stale = false;
      return this.sorted;
    }
    if (this.pending.length === 0 && !this.stale) return this.sorted;
    const fresh = [...new Set(this.pending)].filter(live).sort(ascending);
    const old = this.stale ? this.sorted.filter(live) : this.sorted;
    const merged: T[] = [];
    let i = 0;
    let j = 0;
    while (i < old.length || j < fresh.length) {
      if (j >= fresh.length || (i < old.length && old[i]! < fresh[j]!)) merged.push(old[i++]!);
      else if (i >= old.length || fresh[j]! < old[i]!) merged.push(fresh[j++]!);
      else {
        merged.push(old[i++]!);
        j++;
      }
    }
    this.sorted = merged;
    this.pending = [];
    this.stale = false;
    return merged;
  }
}

function ascending<T extends string | number>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** First index in `sorted` whose value is not below the bound (or above it, when exclusive). */
function lowerBound<T extends string | number>(sorted: readonly T[], bound: Bound | undefined): number {
  if (bound === undefined) return 0;
  const b = bound.value as T;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v < b || (!bound.inclusive && v === b)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One path's index over one collection (docs/scaling.md §3.2): which keys hold each primitive
 * value, and — since records are changed in place — its own memory of the value each key was
 * indexed under, so a change removes the old entry. Values are compared as the query language
 * compares them (semantics.ts): a Map keys 1 and '1', true and 'true', null apart.
 */
export class PathIndex<R> {
  private readonly valueOf = new Map<string, unknown>();
  private readonly buckets = new Map<Primitive, Bucket>();
  private readonly numbers = new SortedValues<number>();
  private readonly strings = new SortedValues<string>();
  /** keys whose value is not exactly one primitive (several values, an object, an array) */
  private irregular = 0;
  /** the twin part the path reads under, or undefined for a field of the record itself */
  private readonly part: keyof TwinParts | undefined;

  constructor(
    readonly path: readonly string[],
    private readonly read: RecordReader<R>,
  ) {
    this.part = twinPartOf(path);
  }

  /** Whether a change that wrote only `parts` of a twin (undefined: anything) can move this path's values. */
  reachedBy(parts: Readonly<TwinParts> | undefined): boolean {
    return parts === undefined || (this.part !== undefined && parts[this.part] === true);
  }

  /** How many keys have a value at the path. */
  get size(): number {
    return this.valueOf.size;
  }

  /** Every key with a value has exactly one primitive one: counts per value are exact. */
  get exact(): boolean {
    return this.irregular === 0;
  }

  /** The record a key holds now (undefined: deleted). */
  set(key: string, record: R | undefined): void {
    const next = record === undefined ? undefined : normalise(this.read(record));
    const prev = this.valueOf.get(key);
    if (prev === next && (prev === undefined || isPrimitive(prev))) return;
    this.withdraw(key, prev);
    if (next === undefined) {
      this.valueOf.delete(key);
      return;
    }
    this.valueOf.set(key, next);
    if (isPrimitive(next)) {
      this.enter(next, key);
      return;
    }
    this.irregular++;
    if (next instanceof Several) for (const v of new Set(next.values)) if (isPrimitive(v)) this.enter(v, key);
  }

  clear(): void {
    this.valueOf.clear();
    this.buckets.clear();
    this.numbers.clear();
    this.strings.clear();
    this.irregular = 0;
  }

  /** How many keys hold one of `values`. */
  countOf(values: readonly Primitive[]): number {
    let n = 0;
    for (const v of new Set(values)) n += sizeOf(this.buckets.get(v));
    return n;
  }

  /** Appends the keys holding one of `values` (a key twice only if it holds two of them). */
  keysOf(values: readonly Primitive[], out: string[]): void {
    for (const v of new Set(values)) {
      const bucket = this.buckets.get(v);
      if (bucket === undefined) continue;
      if (typeof bucket === 'string') out.push(bucket);
      else for (const key of bucket) out.push(key);
    }
  }

  /**
   * The distinct values in a range or with a prefix, or undefined once the keys holding them pass
   * `cap` (the caller scans instead).
   */
  valuesIn(range: { lower?: Bound; upper?: Bound } | { prefix: string }, cap: number): Primitive[] | undefined {
    const out: Primitive[] = [];
    let keys = 0;
    if ('prefix' in range) {
      const sorted = this.sortedStrings();
      for (let i = lowerBound(sorted, { value: range.prefix, inclusive: true }); i < sorted.length; i++) {
        const v = sorted[i]!;
        if (!v.startsWith(range.prefix)) break;
        out.push(v);
        keys += sizeOf(this.buckets.get(v));
        if (keys > cap) return undefined;
      }
      return out;
    }
    const type = typeof (range.lower ?? range.upper)!.value;
    const sorted: readonly (string | number)[] = type === 'number' ? this.sortedNumbers() : this.sortedStrings();
    const upper = range.upper;
    for (let i = lowerBound(sorted, range.lower); i < sorted.length; i++) {
      const v = sorted[i]!;
      if (upper !== undefined && (v > upper.value || (!upper.inclusive && v === upper.value))) break;
      out.push(v);
      keys += sizeOf(this.buckets.get(v));
      if (keys > cap) return undefined;
    }
    return out;
  }

  /** Whether a key's value (any of them) passes `test`; keys without a value never do. */
  holds(key: string, test: (v: unknown) => boolean): boolean {
    const v = this.valueOf.get(key);
    if (v === undefined) return false;
    if (v instanceof Several) return v.values.some(test);
    return test(v);
  }

  /** Every primitive value with its keys, for counts per value (only meaningful when `exact`). */
  groups(): IterableIterator<[Primitive, Bucket]> {
    return this.buckets.entries();
  }

  /** The value a key was indexed under (undefined: none); a single primitive when `exact`. */
  valueAt(key: string): unknown {
    return this.valueOf.get(key);
  }

  /** How many distinct primitive values keys hold. */
  get distinct(): number {
    return this.buckets.size;
  }

  private sortedNumbers(): readonly number[] {
    return this.numbers.read(
      () => this.valuesOfType<number>('number'),
      (v) => this.buckets.has(v),
    );
  }

  private sortedStrings(): readonly string[] {
    return this.strings.read(
      () => this.valuesOfType<string>('string'),
      (v) => this.buckets.has(v),
    );
  }

  private *valuesOfType<T>(type: 'number' | 'string'): Iterable<T> {
    for (const v of this.buckets.keys()) if (typeof v === type) yield v as T;
  }

  private enter(v: Primitive, key: string): void {
    const bucket = this.buckets.get(v);
    if (bucket === undefined) {
      this.buckets.set(v, key);
      if (typeof v === 'number') this.numbers.added(v);
      else if (typeof v === 'string') this.strings.added(v);
    } else if (typeof bucket === 'string') {
      if (bucket !== key) this.buckets.set(v, new Set([bucket, key]));
    } else bucket.add(key);
  }

  private withdraw(key: string, prev: unknown): void {
    if (prev === undefined) return;
    if (isPrimitive(prev)) {
      this.leave(prev, key);
      return;
    }
    this.irregular--;
    if (prev instanceof Several) for (const v of new Set(prev.values)) if (isPrimitive(v)) this.leave(v, key);
  }

  private leave(v: Primitive, key: string): void {
    const bucket = this.buckets.get(v);
    if (bucket === undefined) return;
    if (typeof bucket === 'string') {
      if (bucket !== key) return;
      this.buckets.delete(v);
    } else {
      bucket.delete(key);
      if (bucket.size === 1) this.buckets.set(v, bucket.values().next().value!);
      else if (bucket.size === 0) this.buckets.delete(v);
      if (this.buckets.has(v)) return;
    }
    if (typeof v === 'number') this.numbers.removed();
    else if (typeof v === 'string') this.strings.removed();
  }
}

function sizeOf(bucket: Bucket | undefined): number {
  if (bucket === undefined) return 0;
  return typeof bucket === 'string' ? 1 : bucket.size;
}

export type { Bucket };
