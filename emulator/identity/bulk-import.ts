import { HubError } from '../errors.js';
import type { DeviceRecord } from './device-record.js';
import type { DeviceInput, DeviceUpdate, RegistryService } from './registry-service.js';
import type { TwinService } from '../twin/twin-service.js';
import { checkTwinEtag, readServiceChange } from '../twin/twin-service.js';
import { checkRegistryEtag } from './registry-service.js';
import { isJsonObject } from '../twin/json.js';
import { BULK_MAX_DEVICES } from '../limits.js';

export interface BulkResult {
  isSuccessful: boolean;
  errors: { deviceId: string; errorCode: string; errorStatus: string; moduleId: string | null; operation: string }[];
  warnings: { deviceId: string; warningCode: string; warningStatus: string }[];
}

const MODES = new Set([
  'create',
  'createorupdate',
  'createorupdateifmatchetag',
  'update',
  'updateifmatchetag',
  'delete',
  'deleteifmatchetag',
  'updatetwin',
  'updatetwinifmatchetag',
]);

/**
 * `POST /devices` (docs/protocol.md §3.1): each item succeeds or fails on its own, and the successful ones
 * are committed as one registry unit of work (one transaction, then one event per device).
 * Import modes compare case-insensitively (Node sends `Update`).
 */
export function bulkImport(body: unknown, registry: RegistryService, twins: TwinService): BulkResult {
  if (!Array.isArray(body)) throw new HubError('ArgumentInvalid', 'The bulk registry operation expects a JSON array of devices.');
  if (body.length === 0 || body.length > BULK_MAX_DEVICES) {
    throw new HubError('ArgumentInvalid', `A bulk registry operation takes 1 to ${BULK_MAX_DEVICES} devices; got ${body.length}.`);
  }
  const seen = new Set<string>();
  for (const item of body) {
    const id = isJsonObject(item) ? (item.id ?? item.deviceId) : undefined;
    if (typeof id === 'string') {
      if (seen.has(id)) throw new HubError('DeviceDefinedMultipleTimes', `Device '${id}' appears more than once in the bulk operation.`);
      seen.add(id);
    }
  }

  registry.prefetch([...seen]);
  const result: BulkResult = { isSuccessful: true, errors: [], warnings: [] };
  const created: DeviceRecord[] = [];
  const updated: DeviceUpdate[] = [];
  const twinsChanged: DeviceRecord[] = [];
  const deleted: string[] = [];

  for (const item of body) {
    const input = isJsonObject(item) ? item : {};
    const deviceId = typeof (input.id ?? input.deviceId) === 'string' ? String(input.id ?? input.deviceId) : '';
    const mode = typeof input.importMode === 'string' ? input.importMode.toLowerCase() : 'createorupdate';
    // What the registry reads of an item, named (a spread copied every field of every item).
    const device: DeviceInput = {
      deviceId,
      status: input.status,
      statusReason: input.statusReason,
      authentication: input.authentication,
      capabilities: input.capabilities,
      deviceScope: input.deviceScope,
      parentScopes: input.parentScopes,
    };
    const eTag = typeof input.eTag === 'string' ? input.eTag : undefined;
    try {
      if (!MODES.has(mode)) throw new HubError('ArgumentInvalid', `Import mode '${String(input.importMode)}' is invalid.`);
      // `create` (Registry.addDevices) asks nothing of an existing record: prepareCreate refuses one.
      if (mode === 'create') {
        created.push(withTwin(registry.prepareCreate(device), input, twins));
        continue;
      }
      const exists = registry.find(deviceId) !== undefined;
      switch (mode) {
        case 'createorupdate':
        case 'createorupdateifmatchetag':
        case 'update':
        case 'updateifmatchetag': {
          if (!exists && mode.startsWith('update')) throw new HubError('DeviceNotFound', `Device ${deviceId} could not be found.`);
          if (!exists) {
            created.push(withTwin(registry.prepareCreate(device), input, twins));
            break;
          }
          const ifMatch = mode.endsWith('ifmatchetag') ? (eTag ?? '') : '*';
          if (ifMatch === '') throw new HubError('PreconditionFailed', `An eTag is required for ${String(input.importMode)}.`);
          const update = registry.prepareUpdate(device, ifMatch);
          withTwin(update.record, input, twins);
          updated.push(update);
          break;
        }
        case 'delete':
        case 'deleteifmatchetag': {
          const record = registry.get(deviceId);
          if (mode === 'deleteifmatchetag') checkRegistryEtag(record, eTag ?? '""');
          deleted.push(deviceId);
          break;
        }
        case 'updatetwin':
        case 'updatetwinifmatchetag': {
          const record = registry.get(deviceId);
          if (mode === 'updatetwinifmatchetag') {
            checkTwinEtag(record, typeof input.twinETag === 'string' ? input.twinETag : '""');
          }
          twinsChanged.push(withTwin(record, input, twins));
          break;
        }
      }
    } catch (error) {
      if (!(error instanceof HubError)) throw error;
      result.isSuccessful = false;
      result.errors.push({
        deviceId,
        errorCode: error.errorName,
        errorStatus: error.message,
        moduleId: null,
        operation: String(input.importMode ?? 'createOrUpdate'),
      });
    }
  }
  registry.commit({ created, updated, twinsChanged, deleted });
  return result;
}

/** Bulk items may carry `tags` and `properties.desired`; they are merged into the twin. */
function withTwin(record: DeviceRecord, input: Record<string, unknown>, twins: TwinService): DeviceRecord {
  if (input.tags === undefined && input.properties === undefined) return record;
  twins.mergeUnsaved(record, readServiceChange({ tags: input.tags, properties: input.properties }));
  return record;
}
