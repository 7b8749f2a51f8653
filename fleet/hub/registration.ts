import { deviceId, type IndexRange } from '../device-range.js';
import { FleetError } from '../errors.js';
import { deriveDeviceKeys, type DeviceKeys } from './device-keys.js';
import type { HubAddress } from './hub-address.js';
import { errorText, type ServiceClient } from './service-client.js';

/** The registry takes at most 100 devices per bulk call (docs/protocol.md §3.1). */
const BATCH = 100;
const IN_FLIGHT = 4;
const THROTTLE_RETRIES = 6;

export interface FleetIdentity {
  readonly index: number;
  readonly deviceId: string;
  /** set for a module identity on `deviceId` */
  readonly moduleId?: string;
  readonly keys: DeviceKeys;
}

/** Module ids of a fleet device: `module-1` … `module-N`. */
export function fleetModuleIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `module-${i + 1}`);
}

/**
 * The identities a process simulates for `range`: each device, then (with modules) each of its
 * modules, keys derived from `{deviceId}/{moduleId}`.
 */
export function fleetIdentities(hub: HubAddress, prefix: string, total: number, range: IndexRange, modulesPerDevice: number): FleetIdentity[] {
  const identities: FleetIdentity[] = [];
  const moduleIds = fleetModuleIds(modulesPerDevice);
  for (let index = range.start; index < range.end; index++) {
    const id = deviceId(prefix, index, total);
    identities.push({ index, deviceId: id, keys: deriveDeviceKeys(hub, id) });
    for (const moduleId of moduleIds) identities.push({ index, deviceId: id, moduleId, keys: deriveDeviceKeys(hub, `${id}/${moduleId}`) });
  }
  return identities;
}

/**
 * Registers each device's modules with the registry's module API (there is no bulk call for
 * modules): create, or for a module an earlier run made, update it to the derived keys.
 */
export async function registerModules(
  client: ServiceClient,
  hub: HubAddress,
  prefix: string,
  total: number,
  range: IndexRange,
  modulesPerDevice: number,
): Promise<void> {
  const modules = fleetIdentities(hub, prefix, total, range, modulesPerDevice).filter((i) => i.moduleId !== undefined);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < modules.length) {
      const m = modules[next++];
      const path = `/devices/${encodeURIComponent(m.deviceId)}/modules/${encodeURIComponent(m.moduleId!)}`;
      const body = {
        deviceId: m.deviceId,
        moduleId: m.moduleId,
        authentication: { type: 'sas', symmetricKey: { primaryKey: m.keys.primaryKey, secondaryKey: m.keys.secondaryKey } },
      };
      let { status, body: result } = await client.request('PUT', path, body);
      if (status === 409) ({ status, body: result } = await client.request('PUT', path, body, { 'If-Match': '*' }));
      if (status !== 200) throw new FleetError('hub', `registering module ${m.deviceId}/${m.moduleId} failed with ${status}: ${errorText(result)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT * 2, modules.length) }, worker));
}

interface BulkError {
  deviceId?: string;
  errorCode?: string | number;
  errorStatus?: string;
}

/**
 * Registers the devices of `range` with bulk registry calls. A device that already exists is reused:
 * a second bulk call (`update`) sets the fleet's derived keys and enables it, which changes nothing
 * for a device an earlier run created. Only documented import modes are used, so a real hub accepts it.
 */
export async function registerDevices(
  client: ServiceClient,
  hub: HubAddress,
  prefix: string,
  total: number,
  range: IndexRange,
  onProgress: (registered: number) => void = () => {},
): Promise<FleetIdentity[]> {
  const identities: FleetIdentity[] = [];
  for (let index = range.start; index < range.end; index++) {
    const id = deviceId(prefix, index, total);
    identities.push({ index, deviceId: id, keys: deriveDeviceKeys(hub, id) });
  }
  const batches: FleetIdentity[][] = [];
  for (let i = 0; i < identities.length; i += BATCH) batches.push(identities.slice(i, i + BATCH));

  let done = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++];
      const existing = await bulk(client, batch, 'create');
      if (existing.length) {
        const again = await bulk(
          client,
          batch.filter((d) => existing.includes(d.deviceId)),
          'update',
        );
        if (again.length) throw new FleetError('hub', `the hub would neither create nor update ${again[0]}`);
      }
      done += batch.length;
      onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, batches.length) }, worker));
  return identities;
}

/** One bulk call; returns the ids that already existed (for `create`). */
async function bulk(client: ServiceClient, batch: readonly FleetIdentity[], importMode: 'create' | 'update'): Promise<string[]> {
  const body = batch.map((d) => ({
    id: d.deviceId,
    importMode,
    status: 'enabled',
    authentication: { type: 'sas', symmetricKey: { primaryKey: d.keys.primaryKey, secondaryKey: d.keys.secondaryKey } },
  }));
  let { status, body: result } = await client.request('POST', '/devices', body);
  // A real hub throttles bulk registry work per unit: back off and try again.
  for (let attempt = 1; (status === 429 || status === 503) && attempt <= THROTTLE_RETRIES; attempt++) {
    await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)));
    ({ status, body: result } = await client.request('POST', '/devices', body));
  }
  if (status === 200) return [];
  const errors = (typeof result === 'object' && result !== null ? ((result as { errors?: BulkError[] }).errors ?? []) : []) as BulkError[];
  if (status === 400 && errors.length > 0) {
    const exists = (e: BulkError): boolean => /AlreadyExists|409001/i.test(`${e.errorCode} ${e.errorStatus}`);
    const other = errors.find((e) => !(importMode === 'create' && exists(e)));
    if (!other) return errors.map((e) => String(e.deviceId));
    throw new FleetError('hub', `registering ${other.deviceId} failed: ${other.errorCode} ${other.errorStatus ?? ''}`.trim());
  }
  throw new FleetError('hub', `the bulk registry call failed with ${status}: ${errorText(result)}`);
}
