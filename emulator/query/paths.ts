/**
 * Property access. Property NAMES are case-insensitive in the hub (docs/protocol.md §4.4: `DeviceId`,
 * `Tags.building` find `deviceId`, `tags.building`) while the rows keep their canonical casing,
 * so each lookup tries the exact key first and only then scans for a case-insensitive match.
 *
 * This is the innermost loop of every query over up to 100,000 twins, hence:
 * - segments are split and lower-cased once, at compile time;
 * - each segment remembers the last differently-cased key it matched (`hint`), so a query
 *   written `DeviceId` costs one failed and one successful property read per row, not a scan;
 * - the scan compares lengths before lower-casing, so it allocates only for real candidates
 *   (a key whose lower-case form has another length, e.g. one containing 'İ', could be missed;
 *   such keys are not worth a slower hot path);
 * - no per-row allocation.
 */
import type { QuerySource, Value } from './ast.js';

export type Getter = (row: unknown) => Value;
type Rec = Record<string, Value>;

/**
 * Names that a plain object answers through its prototype (`constructor`, `__proto__`,
 * `toString`…): for those, and only those, a lookup must check own-ness, or
 * `tags.constructor` would find Object.
 */
const PROTOTYPE_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype).map((n) => n.toLowerCase()));

function findKey(rec: Rec, seg: string, lower: string): string | undefined {
  const len = seg.length;
  for (const k in rec) {
    if (k.length === len && k !== seg && k.toLowerCase() === lower) return k;
  }
  return undefined;
}

function findOwnKey(rec: Rec, seg: string, lower: string): string | undefined {
  if (Object.hasOwn(rec, seg) && rec[seg] !== undefined) return seg;
  for (const k of Object.keys(rec)) {
    if (k.toLowerCase() === lower && rec[k] !== undefined) return k;
  }
  return undefined;
}

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `rec[seg]` with `seg` in a variable is a keyed load that turns megamorphic over 100,000 twins
 * (the largest cost of a scan); a function whose source names the key gets V8's fast named-property
 * cache instead. The key is embedded as a JSON string literal, so no query text becomes code.
 */
function exactReader(seg: string): (rec: Rec) => Value {
  return new Function('rec', `return rec[${JSON.stringify(seg)}];`) as (rec: Rec) => Value;
}

/** Reads one property of whatever it is given; anything but a JSON object has no properties. */
export function segmentGetter(seg: string): Getter {
  const lower = seg.toLowerCase();
  if (PROTOTYPE_NAMES.has(lower)) {
    return (obj) => {
      if (!isRecord(obj)) return undefined;
      const k = findOwnKey(obj, seg, lower);
      return k === undefined ? undefined : obj[k];
    };
  }
  let hint: string | undefined;
  const exact = exactReader(seg);
  return (obj) => {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
    const rec = obj as Rec;
    const v = exact(rec);
    if (v !== undefined) return v;
    if (hint !== undefined) {
      const h = rec[hint];
      if (h !== undefined) return h;
    }
    const k = findKey(rec, seg, lower);
    if (k === undefined) return undefined;
    hint = k;
    return rec[k];
  };
}

/** A getter for a whole path, unrolled for the usual short paths (tags.x, properties.reported.x). */
export function pathGetter(segments: readonly string[]): Getter {
  const gs = segments.map(segmentGetter);
  switch (gs.length) {
    case 0:
      return (row) => row as Value;
    case 1: {
      const [a] = gs as [Getter];
      return a;
    }
    case 2: {
      const [a, b] = gs as [Getter, Getter];
      return (row) => {
        const v = a(row);
        return v === undefined ? undefined : b(v);
      };
    }
    case 3: {
      const [a, b, c] = gs as [Getter, Getter, Getter];
      return (row) => {
        let v = a(row);
        if (v === undefined) return undefined;
        v = b(v);
        return v === undefined ? undefined : c(v);
      };
    }
    default:
      return (row) => {
        let v: Value = row as Value;
        for (const g of gs) {
          v = g(v);
          if (v === undefined) return undefined;
        }
        return v;
      };
  }
}

/**
 * For projections: writes the value under the row's own (canonical) spelling of the last
 * segment, so `SELECT DeviceId` yields `{"deviceId": …}` (docs/protocol.md §4.4), or under `alias`.
 * A missing value writes nothing: projections omit missing properties, like Cosmos DB does.
 */
export function pathProjector(segments: readonly string[], alias: string | undefined): (row: unknown, out: Record<string, unknown>) => void {
  const parent = pathGetter(segments.slice(0, -1));
  const last = segments[segments.length - 1]!;
  const lower = last.toLowerCase();
  if (alias !== undefined) {
    const get = pathGetter(segments);
    return (row, out) => {
      const v = get(row);
      if (v !== undefined) out[alias] = v;
    };
  }
  const risky = PROTOTYPE_NAMES.has(lower);
  return (row, out) => {
    const p = parent(row);
    if (!isRecord(p)) return;
    // Fast path: the query spells the name as the row does (the usual case).
    const v = risky ? undefined : p[last];
    if (v !== undefined) {
      out[last] = v;
      return;
    }
    const k = findOwnKey(p, last, lower);
    if (k !== undefined) out[k] = p[k];
  };
}

/**
 * In `FROM devices.jobs` queries fields are written `devices.jobs.<field>` (docs/protocol.md §4.4); the rows
 * are the job records themselves, so the collection prefix is dropped (and likewise `devices.`
 * / `devices.modules.` on the twin collections, which Cosmos-style SQL also allows). Bare field
 * names work as they are.
 */
export function rowPath(segments: readonly string[], source: QuerySource): readonly string[] {
  const prefix = source.split('.');
  if (segments.length <= prefix.length) return segments;
  for (let i = 0; i < prefix.length; i++) {
    if (segments[i]!.toLowerCase() !== prefix[i]) return segments;
  }
  return segments.slice(prefix.length);
}

/**
 * The 2016 jobs doc filters on `devices.jobs.createdTimeUtc`, but the records carry
 * `createdDateTimeUtc` (docs/protocol.md §8.2). Reading the former as the latter makes the documented
 * example work and cannot hide anything: no record has a `createdTimeUtc` of its own.
 */
export function jobFieldGetter(segments: readonly string[]): Getter {
  const get = pathGetter(segments);
  if (segments.length !== 1 || segments[0]!.toLowerCase() !== 'createdtimeutc') return get;
  const fallback = pathGetter(['createdDateTimeUtc']);
  return (row) => {
    const v = get(row);
    return v === undefined ? fallback(row) : v;
  };
}
