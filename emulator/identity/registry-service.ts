import { ifMatchEtag } from '../if-match.js';
import type { DeviceChannel } from '../device-channel.js';
import { HubError, argumentInvalid, deviceNotFound, moduleNotFound } from '../errors.js';
import type { HubEvents } from '../events.js';
import type { DeviceStore } from '../store/device-store.js';
import type { ModuleStore } from '../store/module-store.js';
import { isoTime } from '../time.js';
import { isJsonObject } from '../twin/json.js';
import { invalidateView, newTwin } from '../twin/twin-view.js';
import { NEVER, type DeviceAuthentication, type DeviceRecord, type DeviceStatus } from './device-record.js';
import { validateDeviceId, validateModuleId } from './device-id.js';
import { DeviceAuthenticator } from './auth.js';
import { assignScopes } from './edge-scopes.js';
import { registryEtag } from './device-json.js';
import { generateGenerationId, generateKey, validateKey } from './keys.js';
import { MODULES_PER_DEVICE_MAX, STATUS_REASON_MAX_CHARS } from '../limits.js';
import { isModuleRecord, moduleKey, splitIdentityKey, type ModuleRecord } from './module-record.js';
import { moduleEtag } from './module-json.js';

/** The fields of a Module body (docs/protocol.md §3.1) a caller may set. */
export interface ModuleInput {
  moduleId?: unknown;
  deviceId?: unknown;
  managedBy?: unknown;
  authentication?: unknown;
  etag?: unknown;
}

/** The IoT Edge runtime's modules, which the hub creates on every edge device (docs/protocol.md §12.1). */
export const EDGE_SYSTEM_MODULES = ['$edgeAgent', '$edgeHub'] as const;

/** The fields of a Device body (docs/protocol.md §3.1) a caller may set. */
export interface DeviceInput {
  deviceId?: unknown;
  status?: unknown;
  statusReason?: unknown;
  authentication?: unknown;
  capabilities?: unknown;
  deviceScope?: unknown;
  parentScopes?: unknown;
  etag?: unknown;
}

/** An update built by prepareUpdate, for commit. */
export interface DeviceUpdate {
  record: DeviceRecord;
  wasEnabled: boolean;
}

/** What one registry unit of work writes (each device at most once). */
export interface RegistryWrites {
  created?: readonly DeviceRecord[];
  updated?: readonly DeviceUpdate[];
  /** existing records whose twin a bulk item changed (import mode updateTwin) */
  twinsChanged?: readonly DeviceRecord[];
  deleted?: readonly string[];
}

const lastTouched = new WeakMap<DeviceRecord | ModuleRecord, number>();

const identityKey = (record: DeviceRecord | ModuleRecord): string => (isModuleRecord(record) ? moduleKey(record.deviceId, record.moduleId) : record.deviceId);

export class RegistryService {
  /** module key → module whose connection state changed since it was last written (devices: the store tracks them) */
  private readonly unsavedModules = new Map<string, ModuleRecord>();
  /** Device and module SAS checks, with this hub's memo of verified tokens (every device face asks it). */
  readonly deviceAuth = new DeviceAuthenticator();

  constructor(
    private readonly store: DeviceStore,
    private readonly modules: ModuleStore,
    private readonly channel: DeviceChannel,
    private readonly events: HubEvents,
  ) {}

  /** A connection's identity by its key: a device id, or `{deviceId}/{moduleId}` for a module. */
  findIdentity(key: string): DeviceRecord | ModuleRecord | undefined {
    return key.includes('/') ? this.modules.getByKey(key) : this.store.get(key);
  }

  getModule(deviceId: string, moduleId: string): ModuleRecord {
    const record = this.modules.get(deviceId, moduleId);
    if (!record) {
      if (!this.store.has(deviceId)) throw deviceNotFound(deviceId);
      throw moduleNotFound(deviceId, moduleId);
    }
    return record;
  }

  modulesOf(deviceId: string): ModuleRecord[] {
    this.get(deviceId);
    return [...this.modules.ofDevice(deviceId)];
  }

  /** `PUT /devices/{id}/modules/{mid}` without If-Match (docs/protocol.md §3.1): 409 if the module exists. */
  createModule(deviceId: string, input: ModuleInput): ModuleRecord {
    validateDeviceId(deviceId);
    const moduleId = input.moduleId;
    validateModuleId(moduleId);
    this.get(deviceId);
    if (moduleId.startsWith('$')) {
      throw argumentInvalid(`ModuleId '${moduleId}' is invalid: ids starting with '$' are reserved for the IoT Edge runtime's modules.`);
    }
    if (this.modules.get(deviceId, moduleId)) {
      throw new HubError('ModuleAlreadyExistsOnDevice', `A module with ID '${moduleId}' is already registered on device '${deviceId}'.`);
    }
    if (this.modules.countOf(deviceId) >= MODULES_PER_DEVICE_MAX) {
      throw new HubError('TooManyModulesOnDevice', `Device '${deviceId}' already has the maximum of ${MODULES_PER_DEVICE_MAX} modules.`);
    }
    const record = newModule(deviceId, moduleId, readManagedBy(input.managedBy), readAuthentication(input.authentication, undefined));
    this.modules.save(record);
    this.events.emit('moduleCreated', { deviceId, moduleId });
    return record;
  }

  /** `PUT /devices/{id}/modules/{mid}` with If-Match: keys and managedBy replaced. */
  updateModule(deviceId: string, input: ModuleInput, ifMatch: string | undefined): ModuleRecord {
    validateModuleId(input.moduleId);
    const existing = this.getModule(deviceId, input.moduleId);
    checkEtag(moduleEtag(existing), ifMatch, 'Module');
    const record: ModuleRecord = {
      ...existing,
      managedBy: input.managedBy === undefined ? existing.managedBy : readManagedBy(input.managedBy),
      authentication: readAuthentication(input.authentication, existing.authentication),
      etagVersion: existing.etagVersion + 1,
    };
    invalidateView(record);
    this.modules.save(record);
    const keysChanged = JSON.stringify(record.authentication) !== JSON.stringify(existing.authentication);
    // New keys end the sessions signed with the old ones, as for a device's.
    if (keysChanged) this.channel.disconnect(moduleKey(deviceId, record.moduleId), 'module keys changed');
    return record;
  }

  deleteModule(deviceId: string, moduleId: string, ifMatch: string | undefined): void {
    const record = this.getModule(deviceId, moduleId);
    checkEtag(moduleEtag(record), ifMatch, 'Module');
    if (moduleId.startsWith('$') && this.store.get(deviceId)?.capabilities.iotEdge) {
      throw argumentInvalid(`Module '${moduleId}' belongs to the IoT Edge runtime and cannot be deleted while '${deviceId}' is an edge device.`);
    }
    this.modules.delete(deviceId, moduleId);
    this.channel.disconnect(moduleKey(deviceId, moduleId), 'module deleted');
    this.events.emit('moduleDeleted', { deviceId, moduleId });
  }

  /** The edge runtime's modules an edge device gets, as the hub creates them (those it lacks). */
  private ensureEdgeModules(record: DeviceRecord): void {
    if (!record.capabilities.iotEdge) return;
    const created: ModuleRecord[] = [];
    for (const moduleId of EDGE_SYSTEM_MODULES) {
      if (this.modules.get(record.deviceId, moduleId)) continue;
      created.push(newModule(record.deviceId, moduleId, null, readAuthentication(undefined, undefined)));
    }
    this.modules.saveMany(created);
    for (const module of created) this.events.emit('moduleCreated', { deviceId: module.deviceId, moduleId: module.moduleId });
  }

  get(deviceId: string): DeviceRecord {
    const record = this.store.get(deviceId);
    if (!record) throw deviceNotFound(deviceId);
    return record;
  }

  find(deviceId: string): DeviceRecord | undefined {
    return this.store.get(deviceId);
  }

  /** Reads the records of several devices at once, before a bulk call looks at each (one SQLite read instead of one per device). */
  prefetch(deviceIds: readonly string[]): void {
    this.store.prefetch(deviceIds);
  }

  /** Every device in registry order, read as it is iterated (a registry of 1,000,000 is never held at once). */
  records(): Iterable<DeviceRecord> {
    return this.store.all();
  }

  list(top: number): DeviceRecord[] {
    const result: DeviceRecord[] = [];
    for (const record of this.store.all()) {
      if (result.length >= top) break;
      result.push(record);
    }
    return result;
  }

  count(): number {
    return this.store.size;
  }

  /** Every registered id, in registry order. */
  deviceIds(): string[] {
    return this.store.ids();
  }

  statistics(): { totalDeviceCount: number; enabledDeviceCount: number; disabledDeviceCount: number } {
    const enabled = this.store.enabledCount();
    return { totalDeviceCount: this.store.size, enabledDeviceCount: enabled, disabledDeviceCount: this.store.size - enabled };
  }

  create(input: DeviceInput): DeviceRecord {
    const record = this.prepareCreate(input);
    this.commit({ created: [record] });
    return record;
  }

  /** Builds a new record without saving it (bulk calls commit many at once). */
  prepareCreate(input: DeviceInput): DeviceRecord {
    validateDeviceId(input.deviceId);
    const deviceId = input.deviceId;
    if (this.store.has(deviceId)) {
      throw new HubError('DeviceAlreadyExists', `A device with ID '${deviceId}' is already registered.`);
    }
    const now = isoTime();
    const record: DeviceRecord = {
      deviceId,
      generationId: generateGenerationId(),
      etagVersion: 1,
      status: readStatus(input.status) ?? 'enabled',
      statusReason: readStatusReason(input.statusReason),
      statusUpdatedTime: NEVER,
      authentication: readAuthentication(input.authentication, undefined),
      capabilities: readCapabilities(input.capabilities, { iotEdge: false }),
      connectionState: 'Disconnected',
      connectionStateUpdatedTime: NEVER,
      lastActivityTime: NEVER,
      cloudToDeviceMessageCount: 0,
      modelId: '',
      twin: newTwin(now),
    };
    assignScopes(record, input, undefined, (id) => this.store.get(id));
    return record;
  }

  /** `PUT /devices/{id}` with If-Match: replaces the writable fields of an existing device. */
  update(input: DeviceInput, ifMatch: string | undefined): DeviceRecord {
    const update = this.prepareUpdate(input, ifMatch);
    this.commit({ updated: [update] });
    return update.record;
  }

  /** Builds the updated record without saving it; the caller commits it. */
  prepareUpdate(input: DeviceInput, ifMatch: string | undefined): DeviceUpdate {
    validateDeviceId(input.deviceId);
    const existing = this.get(input.deviceId);
    checkRegistryEtag(existing, ifMatch);
    const status = readStatus(input.status) ?? existing.status;
    const authentication = readAuthentication(input.authentication, existing.authentication);
    const capabilities = readCapabilities(input.capabilities, existing.capabilities);
    const statusReason = input.statusReason === undefined ? existing.statusReason : readStatusReason(input.statusReason);
    const wasEnabled = existing.status === 'enabled';
    // A copy: nothing is visible until the caller saves it, so a failure later leaves no trace.
    const record: DeviceRecord = {
      ...existing,
      status,
      statusUpdatedTime: status !== existing.status ? isoTime() : existing.statusUpdatedTime,
      statusReason,
      authentication,
      capabilities,
      etagVersion: existing.etagVersion + 1,
    };
    assignScopes(record, input, existing, (id) => this.store.get(id));
    return { record, wasEnabled };
  }

  delete(deviceId: string, ifMatch: string | undefined): void {
    const record = this.get(deviceId);
    checkRegistryEtag(record, ifMatch);
    this.commit({ deleted: [deviceId] });
  }

  /**
   * The registry's one unit of work: every write, single or bulk, lands here. Saves and deletes
   * commit in one SQLite transaction; only then does each device get its consequence — one
   * `deviceCreated` / `deviceDeleted` event per device, the connection of a device disabled or
   * deleted dropped — so a listener never sees a device the store does not hold.
   */
  commit(writes: RegistryWrites): void {
    const created = writes.created ?? [];
    const updated = writes.updated ?? [];
    const deleted = writes.deleted ?? [];
    this.store.commit([...created, ...updated.map((u) => u.record), ...(writes.twinsChanged ?? [])], deleted);
    for (const record of created) this.events.emit('deviceCreated', { deviceId: record.deviceId });
    for (const record of created) this.ensureEdgeModules(record);
    for (const { record } of updated) this.ensureEdgeModules(record);
    // A deleted device's modules went with it (same transaction); the channel drops their
    // connections with the device's (afterDelete), as it does when a device is disabled.
    // A device disabled while connected is dropped, as the hub does.
    for (const { record, wasEnabled } of updated) if (wasEnabled && record.status === 'disabled') this.channel.disconnect(record.deviceId, 'device disabled');
    for (const deviceId of deleted) this.afterDelete(deviceId);
  }

  /**
   * Removes every device record in one statement (a hub reset); the caller then runs afterDelete
   * for each id it read before (HubReset does), so listeners hear of each one.
   */
  clearAll(): void {
    this.store.clear(); // and every module (the store's dependents)
    this.unsavedModules.clear();
  }

  /** What deleting a device does beyond the store: drop its connection, tell listeners. */
  afterDelete(deviceId: string): void {
    this.channel.disconnect(deviceId, 'device deleted');
    this.events.emit('deviceDeleted', { deviceId });
  }

  /**
   * Marks a device's or module's connection state; called by the faces. The state and its times
   * stay in memory (docs/scaling.md §3.3): the store marks every identity Disconnected when the hub
   * starts, so writing the whole record through on each connect and disconnect bought nothing a
   * user could see, at ~100 µs per disconnect. They reach SQLite with the record's next write and,
   * for all identities that changed, at a graceful stop (`saveConnectionStates`). A model id the
   * device announces is twin data that outlives the connection: a new one is written through at once.
   */
  setConnected(record: DeviceRecord | ModuleRecord, connected: boolean, modelId?: string): void {
    const now = isoTime();
    record.connectionState = connected ? 'Connected' : 'Disconnected';
    record.connectionStateUpdatedTime = now;
    record.lastActivityTime = now;
    invalidateView(record);
    if (modelId !== undefined && modelId !== record.modelId) {
      record.modelId = modelId;
      this.unsavedModules.delete(identityKey(record));
      if (isModuleRecord(record)) {
        if (this.modules.get(record.deviceId, record.moduleId) === record) this.modules.save(record);
      } else if (this.store.get(record.deviceId) === record) this.store.save(record);
      return;
    }
    // The query indexes hear of it; a device record that leaves the store's cache takes these fields with it.
    if (isModuleRecord(record)) {
      this.unsavedModules.set(identityKey(record), record);
      this.modules.changedInMemory(record);
    } else this.store.changedInMemory(record);
  }

  /** Writes the connection state of every identity whose state changed since it was last written (the hub's stop). */
  saveConnectionStates(): void {
    this.store.writeBackUnsaved();
    const modules = [...this.unsavedModules.values()].filter((record) => this.modules.get(record.deviceId, record.moduleId) === record);
    this.unsavedModules.clear();
    if (modules.length > 0) this.modules.saveMany(modules);
  }

  /** Whether a connection key still names an identity that may be connected (modules: their device enabled). */
  mayConnect(record: DeviceRecord | ModuleRecord): boolean {
    if (!isModuleRecord(record)) return record.status === 'enabled';
    return this.store.get(record.deviceId)?.status === 'enabled';
  }

  /** The device a connection key belongs to (a module's device, or the device itself). */
  deviceOf(key: string): DeviceRecord | undefined {
    return this.store.get(splitIdentityKey(key).deviceId);
  }

  /** The C2D service reports how many messages wait for the device (the Device and twin `cloudToDeviceMessageCount`). */
  setCloudToDeviceMessageCount(deviceId: string, count: number): void {
    const record = this.store.get(deviceId);
    if (!record || record.cloudToDeviceMessageCount === count) return;
    record.cloudToDeviceMessageCount = count;
    invalidateView(record);
  }

  /**
   * A device was heard from. Kept to the second: rewriting the timestamp (and dropping the cached
   * twin view) on every message cost more than the message itself at thousands per second.
   */
  touch(record: DeviceRecord | ModuleRecord): void {
    const now = Date.now();
    if (now - (lastTouched.get(record) ?? 0) < 1000) return;
    lastTouched.set(record, now);
    record.lastActivityTime = isoTime(now);
    invalidateView(record);
  }
}

export function checkRegistryEtag(record: DeviceRecord, ifMatch: string | undefined): void {
  checkEtag(registryEtag(record), ifMatch, 'Device');
}

/** `If-Match` against an identity's etag: absent or `*` is unconditional, a blank or malformed value is 412 (docs/protocol.md §2.4). */
function checkEtag(current: string, ifMatch: string | undefined, what: 'Device' | 'Module'): void {
  const wanted = ifMatchEtag(ifMatch, what === 'Device' ? 'device' : 'module');
  if (wanted === undefined) return;
  if (wanted !== current) {
    throw new HubError('PreconditionFailed', `Precondition failed: ${what} version did not match, existing etag:${current} provided etag:${wanted}`);
  }
}

function readStatus(status: unknown): DeviceStatus | undefined {
  if (status === undefined || status === null) return undefined;
  if (typeof status === 'string') {
    const lower = status.toLowerCase();
    if (lower === 'enabled' || lower === 'disabled') return lower;
  }
  throw argumentInvalid(`Device status '${String(status)}' is invalid: use 'enabled' or 'disabled'.`);
}

function readStatusReason(reason: unknown): string | null {
  if (reason === undefined || reason === null) return null;
  if (typeof reason !== 'string' || reason.length > STATUS_REASON_MAX_CHARS)
    throw argumentInvalid(`statusReason must be a string of at most ${STATUS_REASON_MAX_CHARS} characters.`);
  return reason;
}

function readCapabilities(value: unknown, fallback: { iotEdge: boolean }): { iotEdge: boolean } {
  if (value === undefined || value === null) return fallback;
  if (!isJsonObject(value)) throw argumentInvalid('capabilities must be an object.');
  return { iotEdge: value.iotEdge === true };
}

/**
 * Empty keys are generated (the Node SDK sends '' on create and reads the keys back); keys that
 * are given are checked. X.509 identities are stored but cannot connect yet.
 */
function readAuthentication(value: unknown, existing: DeviceAuthentication | undefined): DeviceAuthentication {
  const noThumbprint = { primaryThumbprint: null, secondaryThumbprint: null };
  if (value === undefined || value === null) {
    return existing ?? { type: 'sas', symmetricKey: { primaryKey: generateKey(), secondaryKey: generateKey() }, x509Thumbprint: noThumbprint };
  }
  if (!isJsonObject(value)) throw argumentInvalid('authentication must be an object.');
  const type = typeof value.type === 'string' ? value.type : 'sas';
  if (!['sas', 'selfSigned', 'certificateAuthority', 'none'].includes(type)) {
    throw argumentInvalid(`Authentication type '${type}' is invalid: use sas, selfSigned, certificateAuthority or none.`);
  }
  const symmetric = isJsonObject(value.symmetricKey) ? value.symmetricKey : {};
  const thumbprint = isJsonObject(value.x509Thumbprint) ? value.x509Thumbprint : {};
  const readKey = (key: unknown, which: 'primary' | 'secondary'): string | null => {
    if (type !== 'sas') return null;
    if (typeof key === 'string' && key.length > 0) {
      validateKey(key, which);
      return key;
    }
    const kept = which === 'primary' ? existing?.symmetricKey.primaryKey : existing?.symmetricKey.secondaryKey;
    return kept ?? generateKey();
  };
  const readThumbprint = (t: unknown): string | null => (typeof t === 'string' && t.length > 0 ? t : null);
  return {
    type: type as DeviceAuthentication['type'],
    symmetricKey: { primaryKey: readKey(symmetric.primaryKey, 'primary'), secondaryKey: readKey(symmetric.secondaryKey, 'secondary') },
    x509Thumbprint: { primaryThumbprint: readThumbprint(thumbprint.primaryThumbprint), secondaryThumbprint: readThumbprint(thumbprint.secondaryThumbprint) },
  };
}

function newModule(deviceId: string, moduleId: string, managedBy: string | null, authentication: DeviceAuthentication): ModuleRecord {
  return {
    deviceId,
    moduleId,
    generationId: generateGenerationId(),
    etagVersion: 1,
    managedBy,
    authentication,
    connectionState: 'Disconnected',
    connectionStateUpdatedTime: NEVER,
    lastActivityTime: NEVER,
    cloudToDeviceMessageCount: 0,
    modelId: '',
    twin: newTwin(),
  };
}

function readManagedBy(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || value.length > 128) throw argumentInvalid('managedBy must be a string of at most 128 characters.');
  return value;
}
