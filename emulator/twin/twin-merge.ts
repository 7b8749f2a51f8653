import { cloneJson, isJsonObject, type Json, type JsonObject } from './json.js';

export { cloneJson };

/**
 * `$metadata` mirrors the property tree (docs/protocol.md §2.1): every object level and every leaf carries
 * `$lastUpdated`; desired metadata also carries `$lastUpdatedVersion`.
 */
export interface Metadata {
  $lastUpdated: string;
  $lastUpdatedVersion?: number;
  [key: string]: Metadata | string | number | undefined;
}

export interface Section {
  properties: JsonObject;
  metadata: Metadata;
  version: number;
}

export function newSection(now: string, withVersion: boolean): Section {
  return { properties: {}, metadata: stamp(now, withVersion ? 1 : undefined), version: 1 };
}

function stamp(now: string, version: number | undefined): Metadata {
  return version === undefined ? { $lastUpdated: now } : { $lastUpdated: now, $lastUpdatedVersion: version };
}

function metadataFor(value: Json, now: string, version: number | undefined): Metadata {
  const meta = stamp(now, version);
  if (isJsonObject(value)) {
    for (const key of Object.keys(value)) meta[key] = metadataFor(value[key], now, version);
  }
  return meta;
}

/**
 * Applies a JSON merge patch (null deletes) to a section in place, bumping its `$version` and
 * stamping `$metadata` along every touched path. Validate before calling: this never fails.
 */
export function mergeIntoSection(section: Section, patch: JsonObject, now: string, versioned: boolean): void {
  section.version += 1;
  const version = versioned ? section.version : undefined;
  mergeLevel(section.properties, section.metadata, patch, now, version);
}

function mergeLevel(target: JsonObject, meta: Metadata, patch: JsonObject, now: string, version: number | undefined): void {
  meta.$lastUpdated = now;
  if (version !== undefined) meta.$lastUpdatedVersion = version;
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) {
      delete target[key];
      delete meta[key];
      continue;
    }
    const existing = target[key];
    const existingMeta = meta[key];
    if (isJsonObject(value) && isJsonObject(existing) && typeof existingMeta === 'object') {
      mergeLevel(existing, existingMeta, value, now, version);
    } else if (typeof value !== 'object' && !isJsonObject(existing) && typeof existingMeta === 'object') {
      // A leaf replacing a leaf: its metadata is only the stamp, restamped in place. The twin is
      // long-lived, so a new stamp object per write would be old-generation garbage each time.
      target[key] = value;
      existingMeta.$lastUpdated = now;
      if (version !== undefined) existingMeta.$lastUpdatedVersion = version;
    } else {
      target[key] = cloneJson(value);
      meta[key] = metadataFor(value, now, version);
    }
  }
}

/** Replaces a section's properties wholesale; returns the merge patch a device needs to get there. */
export function replaceSection(section: Section, properties: JsonObject, now: string, versioned: boolean): JsonObject {
  const change: JsonObject = {};
  for (const key of Object.keys(section.properties)) if (!(key in properties)) change[key] = null;
  for (const key of Object.keys(properties)) change[key] = properties[key];
  section.version += 1;
  const version = versioned ? section.version : undefined;
  section.properties = cloneJson(properties) as JsonObject;
  section.metadata = metadataFor(section.properties, now, version);
  return change;
}

/** What merging `patch` would produce, without touching the section (for size checks). */
export function previewMerge(current: JsonObject, patch: JsonObject): JsonObject {
  const result: JsonObject = { ...current };
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) delete result[key];
    else if (isJsonObject(value) && isJsonObject(result[key])) result[key] = previewMerge(result[key] as JsonObject, value);
    else result[key] = value;
  }
  return result;
}

/** Removes members whose null would delete nothing, so notifications carry only real changes. */
export function effectiveChange(current: JsonObject, patch: JsonObject): JsonObject {
  const change: JsonObject = {};
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null && !(key in current)) continue;
    change[key] = value;
  }
  return change;
}
