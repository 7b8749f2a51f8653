import type { DeviceRecord, TwinState } from '../identity/device-record.js';
import { registryEtag } from '../identity/device-json.js';
import { moduleEtag } from '../identity/module-json.js';
import { isModuleRecord, type ModuleRecord } from '../identity/module-record.js';
import { isoTime } from '../time.js';
import type { JsonObject } from './json.js';
import { newSection, type Section } from './twin-merge.js';

export function newTwin(now: string = isoTime()): TwinState {
  return { tags: {}, desired: newSection(now, true), reported: newSection(now, false), version: 1, etag: 1 };
}

const etagBytes = Buffer.alloc(8);

/** Twin etags look like base64 of an 8-byte big-endian counter ("AAAAAAAAAAE=" = 1), as observed on the real hub. */
export function twinEtag(counter: number): string {
  // Every PATCH answer carries one: a reused buffer and two 32-bit halves instead of a BigInt.
  etagBytes.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 0);
  etagBytes.writeUInt32BE(counter >>> 0, 4);
  return etagBytes.toString('base64');
}

// Built on demand and cached on the record until it changes: queries over 100,000 twins read
// these without rebuilding them. A non-enumerable symbol property (not a WeakMap: its lookup was
// a third of a selective scan) stays out of JSON.stringify and out of `{...record}` copies.
const viewKey = Symbol('twin view');
type WithView = { [viewKey]?: JsonObject };

/** Anything with a twin: a device or a module. */
export type TwinOwner = DeviceRecord | ModuleRecord;

export function invalidateView(record: TwinOwner): void {
  if ((record as WithView)[viewKey] !== undefined) (record as WithView)[viewKey] = undefined;
}

/** The service view of a twin (docs/protocol.md §2.1), as GET /twins/{id} and queries return it. Treat as read-only. */
export function twinView(record: TwinOwner): JsonObject {
  const cached = (record as WithView)[viewKey];
  if (cached !== undefined) return cached;
  const view = isModuleRecord(record) ? buildModuleView(record) : buildView(record);
  // Defined once per record object (non-enumerable), then only reassigned.
  if (viewKey in record) (record as WithView)[viewKey] = view;
  else Object.defineProperty(record, viewKey, { value: view, writable: true, enumerable: false, configurable: true });
  return view;
}

/**
 * The service view built afresh and not cached: a write's answer. Caching it would keep it alive
 * until the twin's next write (old-generation garbage per write under a write-heavy load); the
 * next read builds and caches its own.
 */
export function uncachedTwinView(record: TwinOwner): JsonObject {
  return isModuleRecord(record) ? buildModuleView(record) : buildView(record);
}

function buildView(record: DeviceRecord): JsonObject {
  const twin = record.twin;
  const view: Record<string, unknown> = {
    deviceId: record.deviceId,
    etag: twinEtag(twin.etag),
    deviceEtag: registryEtag(record),
    status: record.status,
    statusReason: record.statusReason,
    statusUpdateTime: record.statusUpdatedTime,
    connectionState: record.connectionState,
    lastActivityTime: record.lastActivityTime,
    cloudToDeviceMessageCount: record.cloudToDeviceMessageCount,
    authenticationType: record.authentication.type,
    x509Thumbprint: record.authentication.x509Thumbprint,
    modelId: record.modelId,
    version: twin.version,
    capabilities: record.capabilities,
    tags: twin.tags,
    properties: { desired: sectionView(twin.desired, true), reported: sectionView(twin.reported, true) },
  };
  if (record.deviceScope !== undefined) view.deviceScope = record.deviceScope;
  if (record.parentScopes !== undefined) view.parentScopes = record.parentScopes;
  return view as JsonObject;
}

/**
 * A module twin (docs/protocol.md §2.1): the device twin's shape with `moduleId`; the registry fields are the
 * module's own (its etag, connection), `status` is that of its device's identity as the hub shows.
 */
function buildModuleView(record: ModuleRecord): JsonObject {
  const twin = record.twin;
  return {
    deviceId: record.deviceId,
    moduleId: record.moduleId,
    etag: twinEtag(twin.etag),
    deviceEtag: moduleEtag(record),
    status: 'enabled',
    statusUpdateTime: '0001-01-01T00:00:00Z',
    connectionState: record.connectionState,
    lastActivityTime: record.lastActivityTime,
    cloudToDeviceMessageCount: record.cloudToDeviceMessageCount,
    authenticationType: record.authentication.type,
    x509Thumbprint: record.authentication.x509Thumbprint,
    modelId: record.modelId,
    version: twin.version,
    tags: twin.tags,
    properties: { desired: sectionView(twin.desired, true), reported: sectionView(twin.reported, true) },
  } as JsonObject;
}

/** The device's view over MQTT (docs/protocol.md §1.7): no tags, no `properties` wrapper, no `$metadata`. */
export function deviceTwinView(record: TwinOwner): JsonObject {
  const twin = record.twin;
  return { desired: sectionView(twin.desired, false), reported: sectionView(twin.reported, false) };
}

/**
 * A section's properties with its `$metadata` (service view) and `$version` after them. Copied key
 * by key: an object spread followed by two more keys cost 4× as much (3 µs of every twin write's
 * answer), and the keys come out in the same order (Object.keys is the spread's own order).
 */
function sectionView(section: Section, withMetadata: boolean): JsonObject {
  const view: Record<string, unknown> = {};
  const properties = section.properties;
  for (const key of Object.keys(properties)) view[key] = properties[key];
  if (withMetadata) view.$metadata = section.metadata;
  view.$version = section.version;
  return view as JsonObject;
}
