import { ifMatchEtag } from '../if-match.js';
import { desiredPatchTopic } from '../../protocol/topics.js';
import type { DeviceChannel } from '../device-channel.js';
import { HubError, deviceNotFound, moduleNotFound } from '../errors.js';
import type { HubEventMap, HubEvents } from '../events.js';
import type { DeviceRecord } from '../identity/device-record.js';
import { isModuleRecord, moduleKey, splitIdentityKey, type ModuleRecord } from '../identity/module-record.js';
import type { DeviceStore, TwinParts } from '../store/device-store.js';
import type { ModuleStore } from '../store/module-store.js';
import { isoTime } from '../time.js';
import { cloneJson, isJsonObject, type JsonObject } from './json.js';
import { checkMergedSectionSize, checkSectionSize, validateSection } from './twin-limits.js';
import { effectiveChange, mergeIntoSection, replaceSection } from './twin-merge.js';
import { deviceTwinView, invalidateView, twinEtag, twinView, uncachedTwinView, type TwinOwner } from './twin-view.js';

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
  /** whether the desired section was written (its metadata and version move even when the notification is empty) */
  desiredChanged: boolean;
}

export class TwinService {
  constructor(
    private readonly store: DeviceStore,
    private readonly modules: ModuleStore,
    private readonly channel: DeviceChannel,
    private readonly events: HubEvents,
  ) {}

  /** A device twin, or with `moduleId` that module's twin (docs/protocol.md §3.3). */
  get(deviceId: string, moduleId?: string): JsonObject {
    return twinView(this.require(deviceId, moduleId));
  }

  /**
   * PATCH semantics (docs/protocol.md §2.3): merge, null deletes; `desired: null` / `tags: null` clear the section.
   * `answer`, for a face that writes its own answer (rest/twin-route.ts), gets the twin once the
   * change is saved and before the events and the desired notification go out: they follow in the
   * same turn, so nothing observable changes, but the answer does not wait for them.
   */
  update(deviceId: string, body: unknown, ifMatch: string | undefined, moduleId?: string, answer?: (twin: JsonObject) => void): JsonObject {
    const record = this.require(deviceId, moduleId);
    const change = readServiceChange(body);
    checkTwinEtag(record, ifMatch);
    const effects = this.merge(record, change);
    if (effects) this.commit(record, { tags: effects.tagsPatch !== undefined, desired: effects.desiredChanged });
    const view = effects ? uncachedTwinView(record) : twinView(record);
    answerThen(answer, view, effects && (() => this.announce(record, effects)));
    return view;
  }

  /** PUT semantics: tags and desired replaced wholesale; a missing section means "empty" (docs/protocol.md §2.3). `answer` as for update(). */
  replace(deviceId: string, body: unknown, ifMatch: string | undefined, moduleId?: string, answer?: (twin: JsonObject) => void): JsonObject {
    const record = this.require(deviceId, moduleId);
    const change = readServiceChange(body);
    checkTwinEtag(record, ifMatch);
    const tags = change.tags ?? {};
    const desired = change.desired ?? {};
    validateSection('tags', tags, false);
    validateSection('desired', desired, false);
    checkSectionSize('tags', tags);
    checkSectionSize('desired', desired);
    const now = isoTime();
    record.twin.tags = cloneJson(tags);
    const notification = replaceSection(record.twin.desired, desired, now, true);
    record.twin.version += 1;
    record.twin.etag += 1;
    this.commit(record, { tags: true, desired: true });
    const view = uncachedTwinView(record);
    answerThen(answer, view, () => {
      this.events.emit('twinUpdated', twinEvent(record, 'service', 'tags', tags, record.twin.version));
      this.notifyDesired(record, notification);
    });
    return view;
  }

  /**
   * A twin-update job's slice (or a configuration's): `change` (read by readServiceChange) applied to each twin as
   * `update()` applies it — the same rules, `$metadata`, events and desired notifications — with
   * every changed twin saved in one transaction (a savepoint inside a caller's transaction).
   * Returns, per device in order, undefined when it was updated or the error that refused it.
   */
  updateMany(deviceIds: readonly string[], change: ServiceTwinChange, ifMatch: string | undefined): unknown[] {
    const outcomes: unknown[] = [];
    const changed: { record: TwinOwner; effects: MergeEffects }[] = [];
    // One read for the slice's devices not in the cache, lent until they are saved (device keys
    // only: a module key has a '/').
    this.store.readBatch(deviceIds.filter((key) => !key.includes('/')));
    try {
      this.mergeEach(deviceIds, change, ifMatch, outcomes, changed);
      this.saveChanged(changed);
    } finally {
      this.store.endBatch();
    }
    for (const { record, effects } of changed) this.announce(record, effects);
    return outcomes;
  }

  private mergeEach(
    deviceIds: readonly string[],
    change: ServiceTwinChange,
    ifMatch: string | undefined,
    outcomes: unknown[],
    changed: { record: TwinOwner; effects: MergeEffects }[],
  ): void {
    for (const key of deviceIds) {
      try {
        // Keys `{deviceId}/{moduleId}` name module twins (configurations apply to those too).
        const record = this.requireKey(key);
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
  }

  /** Every changed twin saved in one transaction (a savepoint inside a caller's). */
  private saveChanged(changed: readonly { record: TwinOwner; effects: MergeEffects }[]): void {
    const devices: DeviceRecord[] = [];
    const parts: TwinParts[] = [];
    const modules: ModuleRecord[] = [];
    for (const { record, effects } of changed) {
      if (isModuleRecord(record)) modules.push(record);
      else {
        devices.push(record);
        // Only what the change wrote (DeviceStore.saveTwin), as update() saves a PATCH.
        parts.push({ tags: effects.tagsPatch !== undefined, desired: effects.desiredChanged });
      }
    }
    this.store.saveTwins(devices, parts);
    this.modules.saveMany(modules);
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
  private merge(record: TwinOwner, change: ServiceTwinChange): MergeEffects | undefined {
    const twin = record.twin;
    const tagsPatch = change.tags === null ? nullsFor(twin.tags) : change.tags;
    const desiredPatch = change.desired === null ? nullsFor(twin.desired.properties) : change.desired;
    if (tagsPatch) {
      validateSection('tags', tagsPatch, true);
      checkMergedSectionSize('tags', twin.tags, tagsPatch);
    }
    if (desiredPatch) {
      validateSection('desired', desiredPatch, true);
      checkMergedSectionSize('desired', twin.desired.properties, desiredPatch);
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
    return { tagsPatch, notification, desiredChanged: desiredPatch !== undefined };
  }

  /** The events (and the desired notification to the device) a saved service change causes. */
  private announce(record: TwinOwner, effects: MergeEffects): void {
    if (effects.tagsPatch) this.events.emit('twinUpdated', twinEvent(record, 'service', 'tags', effects.tagsPatch, record.twin.version));
    if (effects.notification) this.notifyDesired(record, effects.notification);
  }

  /** The device's (or module's, by connection key `{d}/{m}`) own twin GET over MQTT. */
  getForDevice(key: string): JsonObject {
    return deviceTwinView(this.requireKey(key));
  }

  /**
   * A device's or module's reported-properties PATCH (by connection key); returns the new reported
   * `$version`. `answer` (the MQTT face's 204) gets that version once the patch is saved, before
   * the event goes out, as for update().
   */
  patchReported(key: string, patch: unknown, answer?: (version: number) => void): number {
    const record = this.requireKey(key);
    if (!isJsonObject(patch)) throw new HubError('ArgumentInvalid', 'The reported properties patch must be a JSON object.');
    validateSection('reported', patch, true);
    checkMergedSectionSize('reported', record.twin.reported.properties, patch);
    mergeIntoSection(record.twin.reported, patch, isoTime(), false);
    record.twin.version += 1;
    this.commit(record, { reported: true });
    const version = record.twin.reported.version;
    answerThen(answer, version, () => this.events.emit('twinUpdated', twinEvent(record, 'device', 'reported', patch, version)));
    return version;
  }

  private notifyDesired(record: TwinOwner, change: JsonObject): void {
    const version = record.twin.desired.version;
    this.events.emit('twinUpdated', twinEvent(record, 'service', 'desired', change, version));
    // A module's notification goes to that module's connection only (key `{d}/{m}`).
    const key = isModuleRecord(record) ? moduleKey(record.deviceId, record.moduleId) : record.deviceId;
    if (!this.channel.isSubscribed(key, 'desired')) return;
    this.channel.send(key, desiredPatchTopic(version), JSON.stringify({ ...change, $version: version }));
  }

  /** `parts`: what changed, so a device's save writes only those (DeviceStore.saveTwin). */
  private commit(record: TwinOwner, parts: TwinParts): void {
    // Saves what the store holds now: a registry update may have replaced the record object
    // (sharing this twin) meanwhile, and a deleted device or module stays deleted.
    invalidateView(record);
    if (isModuleRecord(record)) {
      const current = this.modules.get(record.deviceId, record.moduleId);
      if (!current) return;
      invalidateView(current);
      this.modules.save(current);
      return;
    }
    const current = this.store.get(record.deviceId);
    if (!current) return;
    invalidateView(current);
    // A record object replaced meanwhile may differ in more than the twin: saved whole, as before.
    if (current === record) this.store.saveTwin(current, parts);
    else this.store.save(current);
  }

  private require(deviceId: string, moduleId?: string): TwinOwner {
    if (moduleId !== undefined) {
      const module = this.modules.get(deviceId, moduleId);
      if (module) return module;
      if (!this.store.has(deviceId)) throw deviceNotFound(deviceId);
      throw moduleNotFound(deviceId, moduleId);
    }
    return this.requireDevice(deviceId);
  }

  private requireDevice(deviceId: string): DeviceRecord {
    const record = this.store.get(deviceId);
    if (!record) throw deviceNotFound(deviceId);
    return record;
  }

  private requireKey(key: string): TwinOwner {
    const { deviceId, moduleId } = splitIdentityKey(key);
    return this.require(deviceId, moduleId);
  }
}

type TwinEvent = HubEventMap['twinUpdated'][0];

/** The twinUpdated event about a device, or a module on it (built directly: one per twin write). */
function twinEvent(record: TwinOwner, side: TwinEvent['side'], section: TwinEvent['section'], patch: JsonObject, version: number): TwinEvent {
  return isModuleRecord(record)
    ? { deviceId: record.deviceId, moduleId: record.moduleId, side, section, patch, version }
    : { deviceId: record.deviceId, side, section, patch, version };
}

/**
 * Hands `result` to the face's answer (if it gave one), then announces; the announcement runs
 * even if answering threw, as it would have run before the answer.
 */
function answerThen<T>(answer: ((result: T) => void) | undefined, result: T, announce: (() => void) | undefined): void {
  if (!answer) {
    announce?.();
    return;
  }
  try {
    answer(result);
  } finally {
    announce?.();
  }
}

/** `If-Match` against the twin etag: absent or `*` is unconditional, a blank or malformed value is 412 (docs/protocol.md §2.4). */
export function checkTwinEtag(record: TwinOwner, ifMatch: string | undefined): void {
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
    else target[key] = cloneJson(value);
  }
}
