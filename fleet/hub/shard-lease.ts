import type { Shard } from '../device-range.js';
import type { Engine, DeviceLink } from '../engines/engine.js';
import { FleetError } from '../errors.js';
import { deriveDeviceKeys } from './device-keys.js';
import type { HubAddress } from './hub-address.js';
import type { FleetIdentity } from './registration.js';
import { errorText, type ServiceClient } from './service-client.js';

/** A claim nobody has held (connected) for this long may be taken over. */
export const LEASE_GRACE_MS = 30_000;
/** How long to keep trying when every shard is held. */
const WAIT_FOR_FREE_SHARD_MS = 2 * LEASE_GRACE_MS;

interface LeaseDevice {
  deviceId: string;
  etag?: string;
  connectionState?: string;
  connectionStateUpdatedTime?: string;
  statusReason?: string | null;
}

export interface ShardLease {
  readonly shard: Shard;
  readonly leaseDeviceId: string;
  release(): Promise<void>;
}

/**
 * `--shard auto/n`: identical replicas (`docker compose up --scale fleet=n`) each take a different
 * shard, coordinated through the hub alone. Shard k is held by a lease device that the holder keeps
 * connected; creating it (409 if it exists) or taking over a stale one with If-Match on its etag
 * decides races, as the registry applies either atomically. Works the same on a real hub.
 */
export async function claimShard(
  client: ServiceClient,
  hub: HubAddress,
  engine: Engine,
  prefix: string,
  count: number,
  holder: string,
  graceMs = LEASE_GRACE_MS,
): Promise<ShardLease> {
  const deadline = Date.now() + Math.max(WAIT_FOR_FREE_SHARD_MS, 2 * graceMs);
  for (;;) {
    const order = Array.from({ length: count }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    for (const index of order) {
      const deviceId = leaseDeviceId(prefix, index, count);
      if (await tryClaim(client, hub, deviceId, holder, graceMs)) {
        const identity: FleetIdentity = { index: -1, deviceId, keys: deriveDeviceKeys(hub, deviceId) };
        const holding = await holdLease(engine, identity);
        return { shard: { index, count }, leaseDeviceId: deviceId, release: holding };
      }
    }
    if (Date.now() > deadline) {
      throw new FleetError(
        'config',
        `all ${count} shards of '${prefix}' are held by running fleets (lease devices ${leaseDeviceId(prefix, 1, count)} …); start fewer replicas or raise n`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(5_000, graceMs / 2)));
  }
}

/**
 * A fixed shard (`--shard k/n`, or the whole fleet) is leased too, so that a second fleet with the
 * same prefix and shard is refused instead of connecting the same ids and kicking the first
 * fleet's devices off, over and over. A lease not connected is taken at once (its holder stopped).
 */
export async function claimFixedShard(
  client: ServiceClient,
  hub: HubAddress,
  engine: Engine,
  prefix: string,
  shard: Shard,
  holder: string,
  devices: string,
): Promise<ShardLease> {
  const deviceId = leaseDeviceId(prefix, shard.index, shard.count);
  // Twice: a lease deleted between our PUT and GET (a reset) is simply created on the second try.
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await tryClaim(client, hub, deviceId, holder, 0)) {
      const release = await holdLease(engine, { index: -1, deviceId, keys: deriveDeviceKeys(hub, deviceId) });
      return { shard, leaseDeviceId: deviceId, release };
    }
  }
  const existing = await client.request('GET', `/devices/${encodeURIComponent(deviceId)}`);
  const reason = existing.status === 200 ? (existing.body as LeaseDevice).statusReason : undefined;
  throw new FleetError(
    'busy',
    `another running fleet already simulates ${devices} (its lease device ${deviceId} is connected${reason ? `: ${reason}` : ''}). ` +
      'Stop that fleet, or give this one another --prefix (or another --shard); a fleet that was killed lets go within its keep-alive.',
  );
}

/** Outside the prefix, so queries and jobs over the fleet's devices do not pick lease devices up. */
export function leaseDeviceId(prefix: string, index: number, count: number): string {
  return `fleet-lease.${prefix}${index}-of-${count}`;
}

async function tryClaim(client: ServiceClient, hub: HubAddress, deviceId: string, holder: string, graceMs: number): Promise<boolean> {
  const keys = deriveDeviceKeys(hub, deviceId);
  const body = {
    deviceId,
    status: 'enabled',
    statusReason: `fleet shard claimed by ${holder} at ${new Date().toISOString()}`.slice(0, 128),
    authentication: { type: 'sas', symmetricKey: keys },
  };
  const path = `/devices/${encodeURIComponent(deviceId)}`;
  const created = await client.request('PUT', path, body);
  if (created.status === 200) return true;
  if (created.status !== 409) throw new FleetError('hub', `claiming a shard (${deviceId}) failed with ${created.status}: ${errorText(created.body)}`);

  const existing = await client.request('GET', path);
  if (existing.status === 404) return false; // deleted meanwhile: the next round may create it
  const lease = existing.body as LeaseDevice;
  if (existing.status !== 200 || lease.connectionState === 'Connected') return false;
  const claimedAt = Date.parse(/ at (\S+)$/.exec(lease.statusReason ?? '')?.[1] ?? '') || 0;
  const lastSeen = Math.max(claimedAt, Date.parse(lease.connectionStateUpdatedTime ?? '') || 0);
  if (Date.now() - lastSeen < graceMs) return false;
  const taken = await client.request('PUT', path, body, { 'if-match': `"${String(lease.etag ?? '').replace(/"/g, '')}"` });
  return taken.status === 200;
}

/** Keeps the lease device connected (others see the shard as held) until released. */
async function holdLease(engine: Engine, identity: FleetIdentity): Promise<() => Promise<void>> {
  let link: DeviceLink | undefined;
  let released = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    try {
      link = await engine.connect(identity, [], {
        method: () => {},
        desired: () => {},
        renewed: () => {},
        lost: () => {
          link = undefined;
          if (!released) retry = setTimeout(() => void connect(), 1_000);
        },
      });
      if (released) await link.close();
    } catch {
      if (!released) retry = setTimeout(() => void connect(), 2_000);
    }
  };
  await connect();
  return async () => {
    released = true;
    clearTimeout(retry);
    await link?.close();
  };
}
