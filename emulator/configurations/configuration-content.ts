import { isJsonObject, type Json, type JsonObject } from '../twin/json.js';

/** One desired-property path a configuration sets (`properties.desired.a.b` → ['a', 'b']) and its value. */
export interface DesiredSetting {
  path: readonly string[];
  value: Json;
}

/** What resolution needs of a configuration: its order and its settings. */
export interface Contender {
  id: string;
  priority: number;
  createdTimeUtc: string;
  settings: readonly DesiredSetting[];
}

/**
 * Reads `deviceContent` / `moduleContent` (docs/protocol.md §17): keys are
 * `properties.desired` or `properties.desired.{path}`; values are what that path is set to.
 * Returns undefined for a key that is not under `properties.desired`.
 */
export function readSettings(content: JsonObject): DesiredSetting[] | string {
  const settings: DesiredSetting[] = [];
  for (const [key, value] of Object.entries(content)) {
    const parts = key.split('.');
    if (parts[0] !== 'properties' || parts[1] !== 'desired' || parts.some((p) => p === '')) {
      return `'${key}' is not a desired-property path: keys start with 'properties.desired'`;
    }
    const path = parts.slice(2);
    if (path.length === 0) {
      if (!isJsonObject(value)) return `'${key}' must be set to a JSON object`;
      for (const [name, inner] of Object.entries(value)) settings.push({ path: [name], value: inner });
    } else {
      settings.push({ path, value });
    }
  }
  return settings;
}

/** What orders configurations. */
export type Precedence = Pick<Contender, 'id' | 'priority' | 'createdTimeUtc'>;

/** Highest priority first; among equals the most recently created wins, then the id (stable). */
export function byPrecedence(a: Precedence, b: Precedence): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.createdTimeUtc !== b.createdTimeUtc) return a.createdTimeUtc < b.createdTimeUtc ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface Resolution {
  /** the desired patch the winning settings make (empty when nothing targets the twin) */
  patch: JsonObject;
  /** per contender: whether every one of its settings won (the configuration is "Applied") */
  applied: Map<string, boolean>;
}

/**
 * Per path, the highest-precedence configuration wins (a path inside or around a claimed one
 * counts as the same path). `contenders` must be sorted with byPrecedence.
 */
export function resolve(contenders: readonly Contender[]): Resolution {
  const claimed: (readonly string[])[] = [];
  const patch: JsonObject = {};
  const applied = new Map<string, boolean>();
  for (const contender of contenders) {
    let all = true;
    for (const setting of contender.settings) {
      if (claimed.some((c) => overlaps(c, setting.path))) {
        all = false;
        continue;
      }
      claimed.push(setting.path);
      setAt(patch, setting.path, setting.value);
    }
    applied.set(contender.id, all);
  }
  return { patch, applied };
}

/** Whether merging `patch` into `current` would change nothing (objects merge, other values replace). */
export function alreadyHolds(current: JsonObject, patch: JsonObject): boolean {
  for (const [key, value] of Object.entries(patch)) {
    const existing = current[key];
    if (isJsonObject(value)) {
      if (!isJsonObject(existing) || !alreadyHolds(existing, value)) return false;
    } else if (value === null) {
      if (key in current) return false;
    } else if (!sameJson(existing, value)) return false;
  }
  return true;
}

function overlaps(a: readonly string[], b: readonly string[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Sets `value` (a copy) at `path` inside `target`, making the objects on the way. */
export function setAt(target: JsonObject, path: readonly string[], value: Json): void {
  let node = target;
  for (let i = 0; i < path.length - 1; i++) {
    const next = node[path[i]];
    if (isJsonObject(next)) node = next;
    else node = node[path[i]] = {};
  }
  node[path[path.length - 1]] = structuredClone(value);
}

function sameJson(a: Json | undefined, b: Json): boolean {
  if (a === b) return true;
  if (a === undefined || a === null || typeof a !== 'object' || typeof b !== 'object' || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
