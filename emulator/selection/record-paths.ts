import type { DeviceRecord } from '../identity/device-record.js';
import type { ModuleRecord } from '../identity/module-record.js';
import type { TwinParts } from '../store/change-hook.js';

/**
 * Which twin paths can be indexed and how to read them from a record without building its twin
 * view (docs/scaling.md §3.2). A path is given as the query sees it, relative to the twin and
 * lower-cased (query names are case-insensitive, docs/protocol.md §4.4): `deviceid`, `status`,
 * `connectionstate`, `moduleid` (module twins), `tags.…`, `properties.desired.…` and
 * `properties.reported.…` (not their `$metadata` / `$version`).
 *
 * A reader returns EVERY value the path can reach under case-insensitive matching: a twin with both
 * `tags.env` and `tags.ENV` yields both, because which one a query's getter finds depends on the
 * spelling in the query. The index is therefore a superset; the compiled query decides.
 */
export type RecordReader<R> = (record: R) => unknown[];

type Rec = Record<string, unknown>;

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every value under `rest[from…]` of `value`, each segment matched case-insensitively, as the query's getters do. */
function collect(value: unknown, rest: readonly string[], from: number, out: unknown[]): void {
  if (from === rest.length) {
    if (value !== undefined) out.push(value);
    return;
  }
  if (!isRecord(value)) return;
  const segment = rest[from]!;
  // Twin objects are plain JSON objects (nothing enumerable inherited), so for-in allocates nothing.
  for (const k in value) {
    if (k === segment || ((k.length === segment.length || UNUSUAL.test(k)) && k.toLowerCase() === segment)) collect(value[k], rest, from + 1, out);
  }
}

/** A name of printable ASCII keeps its length when lower-cased: only others need lower-casing to compare by another length. */
const UNUSUAL = /[^\x20-\x7e]/;

function within(root: (record: DeviceRecord | ModuleRecord) => unknown, rest: readonly string[]): RecordReader<DeviceRecord | ModuleRecord> {
  return (record) => {
    const out: unknown[] = [];
    collect(root(record), rest, 0, out);
    return out;
  };
}

function twinPart(path: readonly string[]): RecordReader<DeviceRecord | ModuleRecord> | undefined {
  const [first, second, third] = path;
  if (first === 'tags' && path.length >= 2) return within((r) => r.twin.tags, path.slice(1));
  if (first === 'properties' && path.length >= 3 && third !== '$metadata' && third !== '$version') {
    if (second === 'desired') return within((r) => r.twin.desired.properties, path.slice(2));
    if (second === 'reported') return within((r) => r.twin.reported.properties, path.slice(2));
  }
  return undefined;
}

/**
 * The twin part a path reads under (`tags.…`, `properties.desired.…`, `properties.reported.…`),
 * or undefined for a field of the record itself (deviceId, status, connectionState, moduleId): a
 * change that wrote only other parts (ChangeHook's `parts`) leaves the path's values as they were.
 */
export function twinPartOf(path: readonly string[]): keyof TwinParts | undefined {
  const [first, second] = path;
  if (first === 'tags') return 'tags';
  if (first === 'properties' && (second === 'desired' || second === 'reported')) return second;
  return undefined;
}

/** The reader of a device twin path, or undefined when the path is not indexable. */
export function deviceReader(path: readonly string[]): RecordReader<DeviceRecord> | undefined {
  if (path.length === 1) {
    switch (path[0]) {
      case 'deviceid':
        return (r) => [r.deviceId];
      case 'status':
        return (r) => [r.status];
      case 'connectionstate':
        return (r) => [r.connectionState];
    }
    return undefined;
  }
  return twinPart(path);
}

/** The reader of a module twin path (its `status` is always `enabled`, so not worth an index). */
export function moduleReader(path: readonly string[]): RecordReader<ModuleRecord> | undefined {
  if (path.length === 1) {
    switch (path[0]) {
      case 'deviceid':
        return (r) => [r.deviceId];
      case 'moduleid':
        return (r) => [r.moduleId];
      case 'connectionstate':
        return (r) => [r.connectionState];
    }
    return undefined;
  }
  return twinPart(path);
}
