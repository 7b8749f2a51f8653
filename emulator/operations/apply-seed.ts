import { isDeepStrictEqual } from 'node:util';
import type { DeviceRecord } from '../identity/device-record.js';
import type { RegistryService } from '../identity/registry-service.js';
import { isJsonObject, type Json, type JsonObject } from '../twin/json.js';
import type { TwinService } from '../twin/twin-service.js';
import type { HubMetrics } from './metrics.js';
import type { Recording } from './recording.js';
import type { ResetHook } from './reset.js';
import { SeedError, type Seed, type SeedDevice } from './seed.js';

export interface SeedTarget {
  registry: RegistryService;
  twins: TwinService;
}

export interface SeedResult {
  created: string[];
  updated: string[];
  unchanged: string[];
}

export interface SeededHub extends SeedTarget {
  recording: Recording;
  metrics: HubMetrics;
  onReset(hook: ResetHook): () => void;
}

/**
 * Applies a seed as set-up rather than traffic: what it causes stays out of the recording and
 * the metrics, which describe what the code under test did.
 */
export function applySeedQuietly(hub: SeededHub, seed: Seed): SeedResult {
  return hub.recording.unrecorded(() => hub.metrics.uncounted(() => applySeed(hub, seed)));
}

/** Seeds a hub now and again after every reset, so a reset returns to the hub's starting state. */
export function keepSeeded(hub: SeededHub, seed: Seed): SeedResult {
  const result = applySeedQuietly(hub, seed);
  hub.onReset({ afterReset: () => void applySeedQuietly(hub, seed) });
  return result;
}

/**
 * Makes the hub hold what the seed says, and changes nothing that already matches: a hub
 * restarted on its data directory with the same `--seed` keeps its twin versions and etags.
 * Devices and properties the seed does not mention are left alone.
 */
export function applySeed(hub: SeedTarget, seed: Seed): SeedResult {
  const result: SeedResult = { created: [], updated: [], unchanged: [] };
  for (const device of seed.devices) {
    const existing = hub.registry.find(device.deviceId);
    let changed = false;
    try {
      if (!existing) {
        hub.registry.create({ deviceId: device.deviceId, status: device.status, authentication: authenticationOf(device) });
      } else if (identityDiffers(existing, device)) {
        hub.registry.update({ deviceId: device.deviceId, status: device.status, authentication: authenticationOf(device) }, '*');
        changed = true;
      }
      changed = applyTwin(hub, device) || changed;
    } catch (error) {
      // The hub's own checks (ids, keys, twin limits) speak for one call; say which device it was.
      throw new SeedError(`device '${device.deviceId}': ${(error as Error).message}`);
    }
    if (!existing) result.created.push(device.deviceId);
    else (changed ? result.updated : result.unchanged).push(device.deviceId);
  }
  return result;
}

function authenticationOf(device: SeedDevice): JsonObject | undefined {
  if (device.primaryKey === undefined && device.secondaryKey === undefined) return undefined;
  // Missing keys are kept (an existing device) or generated (a new one) by the registry.
  const symmetricKey: JsonObject = {};
  if (device.primaryKey !== undefined) symmetricKey.primaryKey = device.primaryKey;
  if (device.secondaryKey !== undefined) symmetricKey.secondaryKey = device.secondaryKey;
  return { type: 'sas', symmetricKey };
}

function identityDiffers(record: DeviceRecord, device: SeedDevice): boolean {
  const keys = record.authentication.symmetricKey;
  return (
    (device.status !== undefined && device.status !== record.status) ||
    (device.primaryKey !== undefined && device.primaryKey !== keys.primaryKey) ||
    (device.secondaryKey !== undefined && device.secondaryKey !== keys.secondaryKey)
  );
}

function applyTwin(hub: SeedTarget, device: SeedDevice): boolean {
  const twin = hub.registry.get(device.deviceId).twin;
  const patch: JsonObject = {};
  if (device.tags && !alreadyHolds(twin.tags, device.tags)) patch.tags = device.tags;
  if (device.desired && !alreadyHolds(twin.desired.properties, device.desired)) patch.properties = { desired: device.desired };
  let changed = false;
  if (Object.keys(patch).length > 0) {
    hub.twins.update(device.deviceId, patch, '*');
    changed = true;
  }
  if (device.reported && !alreadyHolds(twin.reported.properties, device.reported)) {
    hub.twins.patchReported(device.deviceId, device.reported);
    changed = true;
  }
  return changed;
}

/** Whether merging `patch` into `current` (null deletes) would leave it as it is. */
export function alreadyHolds(current: JsonObject, patch: JsonObject): boolean {
  return Object.entries(patch).every(([key, value]) => {
    const present = Object.hasOwn(current, key);
    if (value === null) return !present;
    if (isJsonObject(value)) return present && isJsonObject(current[key] as Json) && alreadyHolds(current[key] as JsonObject, value);
    return present && isDeepStrictEqual(current[key], value);
  });
}
