import { ifMatchEtag } from '../if-match.js';
import { desiredPatchTopic } from '../../protocol/topics.js';
import type { DeviceChannel } from '../device-channel.js';
import { HubError, deviceNotFound } from '../errors.js';
import type { HubEvents } from '../events.js';
import type { DeviceRecord } from '../identity/device-record.js';
import type { DeviceStore } from '../store/device-store.js';
import { isoTime } from '../time.js';
import { isJsonObject, type JsonObject } from './json.js';
import { checkSectionSize, validateSection } from './twin-limits.js';
import { effectiveChange, mergeIntoSection, previewMerge, replaceSection } from './twin-merge.js';
import { deviceTwinView, invalidateView, twinEtag, twinView } from './twin-view.js';

/** A service-side change to one twin: what `PATCH`/`PUT /twins/{id}` and twin jobs carry. */
export interface ServiceTwinChange {
  tags?: JsonObject | null;
  desired?: JsonObject | null;
}

/** What a merged change must announce once it is saved. */
interface MergeEffects {
  tagsPatch?: JsonObject;
  /** the desired change as the device receives it */
  notification?: JsonObject;
}

export class TwinService {
  constructor(
    private readonly store: DeviceStore,
    private readonly channel: DeviceChannel,
    private readonly events: HubEvents,
  ) {}

  get(deviceId: string): JsonObject {
    return twinView(this.require(deviceId));
  }

  /** PATCH semantics (docs/protocol.md §2.3): merge, null deletes; `desired: null` / `tags: null` clear the section. */
  update(deviceId: string, body: unknown, ifMatch: string | undefined): JsonObject {
    const record = this.require(deviceId);
    const change = readServiceChange(body);
    checkTwinEtag(record, ifMatch);
    const effects = this.merge(record, change);
    if (effects) {
      this.commit(record);
      this.announce(record, effects);
    }
    return twinView(record);
  }

  /** PUT semantics: tags and desired replaced wholesale; a missing section means "empty" (docs/protocol.md §2.3). */
  replace(deviceId: string, body: unknown, ifMatch: string | undefined): JsonObject {
    const record = this.require(deviceId);
    const change = readServiceChange(body);
    checkTwinEtag(record, ifMatch);
    const tags = change.tags ?? {};
    const desired = change.desired ?? {};
    validateSection('tags', tags, false);
    validateSection('desired', desired, false);
    checkSectionSize('tags', tags);
    checkSectionSize('desired', desired);
    const now = isoTime();
    record.twin.tags = structuredClone(tags);
    const notification = replaceSection(record.twin.desired, desired, now, true);
    record.twin.version += 1;
    record.twin.etag += 1;
    this.commit(record);
    this.events.emit('twinUpdated', { deviceId, side: 'service', section: 'tags', patch: tags, version: record.twin.version });
    this.notifyDesired(record, notification);
    return twinView(record);
  }

  /**
   * A twin-update job's slice: `change` (read by readServiceChange) applied to each device as
   * `update()` applies it — the same rules, `$metadata`, events and desired notifications — with
   * every changed twin saved in one transaction (a savepoint inside a caller's transaction).
   * Returns, per device in order, undefined when it was updated or the error that refused it.
   */
  updateMany(deviceIds: readonly string[], change: ServiceTwinChange, ifMatch: string | undefined): unknown[] {
    const outcomes: unknown[] = [];
    const changed: { record: DeviceRecord; effects: MergeEffects }[] = [];
    for (const deviceId of deviceIds) {
      try {
        const record = this.require(deviceId);
        checkTwinEtag(record, ifMatch);
        const effects = this.merge(record, change);
        if (effects) {
          invalidateView(record);
          changed.push({ record, effects });
        }
        outcomes.push(undefined);
      } catch (error) {
        outcomes.push(error);
      }
    }
    this.store.commit(changed.map((c) => c.record));
    for (const { record, effects } of changed) this.announce(record, effects);
    return outcomes;
  }

  /**
   * Merges a change that was already read into a record the caller saves (a bulk registry item's
   * tags and desired properties): the same rules and notifications as update().
   */
  mergeUnsaved(record: DeviceRecord, change: ServiceTwinChange): void {
    const effects = this.merge(record, change);
    if (!effects) return;
    invalidateView(record);
    this.announce(record, effects);
  }

  /**
   * Applies a merge change to the record in memory, validating everything before touching it so
   * a rejected change writes nothing. Returns what to announce once saved (undefined: no change).
   */
  private merge(record: DeviceRecord, change: ServiceTwinChange): MergeEffects | undefined {
    const twin = record.twin;
    const tagsPatch = change.tags === null ? nullsFor(twin.tags) : change.tags;
    const desiredPatch = change.desired === null ? nullsFor(twin.desired.properties) : change.desired;
    if (tagsPatch) {
      validateSection('tags', tagsPatch, true);
      checkSectionSize('tags', previewMerge(twin.tags, tagsPatch));
    }
    if (desiredPatch) {
      validateSection('desired', desiredPatch, true);
      checkSectionSize('desired', previewMerge(twin.desired.properties, desiredPatch));
    }
    if (!tagsPatch && !desiredPatch) return undefined;
    const now = isoTime();
    if (tagsPatch) mergeTags(twin.tags, tagsPatch);
    let notification: JsonObject | undefined;
    if (desiredPatch) {
      notification = effectiveChange(twin.desired.properties, desiredPatch);
      mergeIntoSection(twin.desired, desiredPatch, now, true);
    }
    twin.version += 1;
    twin.etag += 1;
    return { tagsPatch, notification };
  }

  /** The events (and the desired notification to the device) a saved service change causes. */
  private announce(record: DeviceRecord, effects: MergeEffects): void {
    if (effects.tagsPatch) {
      this.events.emit('twinUpdated', { deviceId: record.deviceId, side: 'service', section: 'tags', patch: effects.tagsPatch, version: record.twin.version });
    }
    if (effects.notification) this.notifyDesired(record, effects.notification);
  }

  /** The device's own twin GET over MQTT. */
  getForDevice(deviceId: string): JsonObject {
    return deviceTwinView(this.require(deviceId));
  }

  /** A device's reported-properties PATCH; returns the new reported `$version`. */
  patchReported(deviceId: string, patch: unknown): number {
    const record = this.require(deviceId);
    if (!isJsonObject(patch)) throw new HubError('ArgumentInvalid', 'The reported properties patch must be a JSON object.');
    validateSection('reported', patch, true);
    checkSectionSize('reported', previewMerge(record.twin.reported.properties, patch));
    mergeIntoSection(record.twin.reported, patch, isoTime(), false);
    record.twin.version += 1;
    this.commit(record);
    this.events.emit('twinUpdated', { deviceId, side: 'device', section: 'reported', patch, version: record.twin.reported.version });
    return record.twin.reported.version;
  }

  private notifyDesired(record: DeviceRecord, change: JsonObject): void {
    const version = record.twin.desired.version;
    this.events.emit('twinUpdated', { deviceId: record.deviceId, side: 'service', section: 'desired', patch: change, version });
    if (!this.channel.isSubscribed(record.deviceId, 'desired')) return;
    this.channel.send(record.deviceId, desiredPatchTopic(version), JSON.stringify({ ...change, $version: version }));
  }

  private commit(record: DeviceRecord): void {
    // Saves what the store holds now: a registry update may have replaced the record object
    // (sharing this twin) meanwhile, and a deleted device stays deleted.
    const current = this.store.get(record.deviceId);
    invalidateView(record);
    if (!current) return;
    invalidateView(current);
    this.store.save(current);
  }

  private require(deviceId: string): DeviceRecord {
    const record = this.store.get(deviceId);
    if (!record) throw deviceNotFound(deviceId);
    return record;
  }
}

/** `If-Match` against the twin etag: absent or `*` is unconditional, a blank or malformed value is 412 (docs/protocol.md §2.4). */
export function checkTwinEtag(record: DeviceRecord, ifMatch: string | undefined): void {
  const wanted = ifMatchEtag(ifMatch, 'twin');
  if (wanted === undefined) return;
  if (wanted !== twinEtag(record.twin.etag)) {
    throw new HubError('PreconditionFailed', `Precondition failed: the twin etag '${wanted}' does not match the current etag '${twinEtag(record.twin.etag)}'.`);
  }
}

export function unquote(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  const trimmed = etag.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed;
}

/**
 * Reads the writable parts of a service twin body. SDKs send extra members (deviceId, etag,
 * version, an empty `reported`): tolerated and ignored. A non-empty `reported` is refused
 * (EMULATOR CHOICE, docs/protocol.md §2.3): only devices write reported properties.
 */
export function readServiceChange(body: unknown): ServiceTwinChange {
  if (!isJsonObject(body)) throw new HubError('ArgumentInvalid', 'The twin patch must be a JSON object.');
  const change: ServiceTwinChange = {};
  if ('tags' in body) {
    const tags = body.tags;
    if (tags !== null && !isJsonObject(tags)) throw new HubError('ArgumentInvalid', "Twin 'tags' must be a JSON object or null.");
    change.tags = tags;
  }
  const properties = body.properties;
  if (properties !== undefined && properties !== null) {
    if (!isJsonObject(properties)) throw new HubError('ArgumentInvalid', "Twin 'properties' must be a JSON object.");
    const reported = properties.reported;
    if (reported !== undefined && reported !== null && !(isJsonObject(reported) && Object.keys(reported).length === 0)) {
      throw new HubError('ArgumentInvalid', 'Reported properties can only be written by the device.');
    }
    if ('desired' in properties) {
      const desired = properties.desired;
      if (desired !== null && !isJsonObject(desired)) throw new HubError('ArgumentInvalid', "Twin 'properties.desired' must be a JSON object or null.");
      change.desired = desired;
    }
  }
  return change;
}

function nullsFor(object: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(object)) patch[key] = null;
  return patch;
}

function mergeTags(target: JsonObject, patch: JsonObject): void {
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) delete target[key];
    else if (isJsonObject(value) && isJsonObject(target[key])) mergeTags(target[key] as JsonObject, value);
    else target[key] = structuredClone(value);
  }
}
