import { argumentInvalid } from '../errors.js';
import type { DeviceRecord } from './device-record.js';
import { EDGE_NESTING_MAX_DEPTH } from '../limits.js';

const SCOPE_PREFIX = 'ms-azure-iot-edge://';

/** An IoT Edge device's own scope (docs/protocol.md §3.1): `ms-azure-iot-edge://{deviceId}-{generationId}`. */
export function edgeScope(record: Pick<DeviceRecord, 'deviceId' | 'generationId'>): string {
  return `${SCOPE_PREFIX}${record.deviceId}-${record.generationId}`;
}

/** The device id a scope names (device ids may contain '-': the generation id after the last one is digits). */
function scopeOwner(scope: string): string | undefined {
  if (!scope.startsWith(SCOPE_PREFIX)) return undefined;
  const rest = scope.slice(SCOPE_PREFIX.length);
  const dash = rest.lastIndexOf('-');
  if (dash <= 0 || !/^\d+$/.test(rest.slice(dash + 1))) return undefined;
  return rest.slice(0, dash);
}

/**
 * Sets `deviceScope` and `parentScopes` on a record being created or updated, as the hub does
 * (docs/protocol.md §12.2):
 * - an edge device's deviceScope is always its own scope; its parent (nested edge) is the one
 *   entry of parentScopes, which must be another edge device's scope, without a cycle and at
 *   most EDGE_NESTING_MAX_DEPTH layers deep;
 * - a leaf device becomes a child by setting its deviceScope to its parent edge device's scope;
 *   its parentScopes is then that scope (set by the hub);
 * - anything else (a scope naming no device, a non-edge parent, two parents) is 400 ArgumentInvalid.
 */
export function assignScopes(
  record: DeviceRecord,
  input: { deviceScope?: unknown; parentScopes?: unknown },
  existing: DeviceRecord | undefined,
  find: (deviceId: string) => DeviceRecord | undefined,
): void {
  const givenScope = readScope(input.deviceScope, 'deviceScope');
  const givenParents = readParents(input.parentScopes);
  if (record.capabilities.iotEdge) {
    const own = edgeScope(record);
    if (givenScope !== undefined && givenScope !== '' && givenScope !== own) {
      throw argumentInvalid(`The deviceScope of edge device '${record.deviceId}' is its own scope '${own}'; set parentScopes to give it a parent.`);
    }
    record.deviceScope = own;
    const parents = givenParents ?? (existing?.capabilities.iotEdge ? existing.parentScopes : undefined) ?? [];
    if (parents.length > 0) checkEdgeParent(record, parents[0], find);
    record.parentScopes = parents;
    return;
  }
  // A leaf device (or an edge device that stopped being one: its own scope goes).
  // parentScopes read back from GET (the old parent's) may accompany a change of deviceScope.
  const stale = givenParents !== undefined && JSON.stringify(givenParents) === JSON.stringify(existing?.parentScopes ?? []);
  let scope = givenScope ?? existing?.deviceScope;
  if (existing?.capabilities.iotEdge && scope === edgeScope(existing)) scope = undefined;
  if (scope === undefined || scope === '') {
    if (givenParents && givenParents.length > 0 && !stale)
      throw argumentInvalid("A device that is not an edge device gets its parent by setting deviceScope to the parent edge device's scope.");
    if (existing?.deviceScope !== undefined || givenScope !== undefined) {
      record.deviceScope = '';
      record.parentScopes = [];
    } else {
      delete record.deviceScope;
      delete record.parentScopes;
    }
    return;
  }
  const parent = resolveEdge(scope, find);
  if (givenParents && givenParents.length > 0 && !stale && givenParents[0] !== scope) {
    throw argumentInvalid(`The parentScopes of device '${record.deviceId}' must be its deviceScope '${scope}'.`);
  }
  if (parent.deviceId === record.deviceId) throw argumentInvalid('A device cannot be its own parent.');
  record.deviceScope = scope;
  record.parentScopes = [scope];
}

function checkEdgeParent(record: DeviceRecord, scope: string, find: (deviceId: string) => DeviceRecord | undefined): void {
  let parent = resolveEdge(scope, find);
  // Walk up: the new parent must not be this device or one of its descendants, and the chain bounded.
  for (let depth = 1; ; depth++) {
    if (parent.deviceId === record.deviceId) throw argumentInvalid(`Device '${record.deviceId}' cannot be its own ancestor.`);
    if (depth >= EDGE_NESTING_MAX_DEPTH) {
      throw argumentInvalid(`IoT Edge devices nest at most ${EDGE_NESTING_MAX_DEPTH} layers deep.`);
    }
    const next = parent.parentScopes?.[0];
    if (!next) return;
    const up = scopeOwner(next);
    const grand = up === undefined ? undefined : find(up);
    if (!grand) return;
    parent = grand;
  }
}

function resolveEdge(scope: string, find: (deviceId: string) => DeviceRecord | undefined): DeviceRecord {
  const owner = scopeOwner(scope);
  const parent = owner === undefined ? undefined : find(owner);
  if (!parent || parent.deviceScope !== scope) throw argumentInvalid(`The scope '${scope}' is not the scope of any device in this hub.`);
  if (!parent.capabilities.iotEdge) throw argumentInvalid(`Device '${parent.deviceId}' is not an IoT Edge device and cannot be a parent.`);
  return parent;
}

function readScope(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw argumentInvalid(`${what} must be a string.`);
  return value;
}

function readParents(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((s) => typeof s !== 'string')) throw argumentInvalid('parentScopes must be an array of strings.');
  const parents = (value as string[]).filter((s) => s !== '');
  if (parents.length > 1) throw argumentInvalid('A device has at most one parent: parentScopes holds one scope.');
  return parents;
}
