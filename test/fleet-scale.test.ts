import iothub from 'azure-iothub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { DEFAULT_TOKEN_TTL_SECONDS, type FleetConfig } from '../fleet/config.js';
import { deviceId, WHOLE } from '../fleet/device-range.js';
import { LightEngine } from '../fleet/engines/light-engine.js';
import { startFleet } from '../fleet/fleet.js';
import { hubAddress } from '../fleet/hub/hub-address.js';
import { ServiceClient as FleetServiceClient } from '../fleet/hub/service-client.js';
import { claimShard, leaseDeviceId } from '../fleet/hub/shard-lease.js';
import { defaultScenario } from '../fleet/scenario/scenario.js';
import { startTestHub } from './support/hub-factory.js';
import { waitUntil } from './support/wait.js';

const { Client: ServiceClient, Registry } = iothub;

describe('fleet scale-out: shards and worker processes', () => {
  let hub: Hub;
  let registry: ReturnType<typeof Registry.fromConnectionString>;

  beforeAll(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionString());
  });
  afterAll(async () => {
    await hub?.stop();
  });

  const config = (change: Partial<FleetConfig>): FleetConfig => ({
    connectionString: hub.connectionString(),
    engine: 'light',
    devices: 10,
    prefix: 'scale-',
    shard: WHOLE,
    workers: 0,
    tokenTtlSeconds: DEFAULT_TOKEN_TTL_SECONDS,
    durationMs: 0,
    scenario: defaultScenario,
    ...change,
  });

  it('splits one device range across shards without overlap, and together they cover it', async () => {
    const shards = await Promise.all([1, 2, 3].map((index) => startFleet(config({ prefix: 'shard-', shard: { index, count: 3 } }))));
    try {
      await Promise.all(shards.map((s) => s.ramped));
      const owned = shards.map((s) => {
        const ids: string[] = [];
        for (let i = s.range.start; i < s.range.end; i++) ids.push(deviceId('shard-', i, 10));
        return ids;
      });
      const all = owned.flat();
      expect(new Set(all).size).toBe(all.length);
      expect(all.sort()).toEqual(Array.from({ length: 10 }, (_, i) => deviceId('shard-', i, 10)));
      expect(shards.map((s) => s.stats().counters.connected)).toEqual(owned.map((ids) => ids.length));

      const query = registry.createQuery("SELECT deviceId, connectionState FROM devices WHERE STARTSWITH(deviceId, 'shard-')", 100);
      const rows = (await query.nextAsTwin()).result as unknown as { deviceId: string; connectionState: string }[];
      expect(rows.map((r) => r.deviceId).sort()).toEqual(all);
      expect(rows.every((r) => r.connectionState === 'Connected')).toBe(true);
    } finally {
      await Promise.all(shards.map((s) => s.stop()));
    }
  });

  it('lets identical replicas take different shards through the hub (--shard auto/n), and a stale one be taken over', async () => {
    const replicas = await Promise.all([1, 2].map(() => startFleet(config({ prefix: 'auto-', devices: 6, shard: { index: 'auto', count: 2 } }))));
    await Promise.all(replicas.map((r) => r.ramped));
    expect(replicas.map((r) => r.shard.index).sort()).toEqual([1, 2]);
    expect(replicas.map((r) => r.range)).toEqual(
      expect.arrayContaining([
        { start: 0, end: 3 },
        { start: 3, end: 6 },
      ]),
    );
    const lease = (await registry.get(leaseDeviceId('auto-', replicas[0].shard.index, 2))).responseBody;
    expect(String(lease.connectionState)).toBe('Connected');

    // The first replica stops; after the grace period its shard is free for a newcomer.
    await replicas[0].stop();
    const hubAddr = hubAddress(hub.connectionString());
    const client = new FleetServiceClient(hubAddr);
    const staleLease = leaseDeviceId('auto-', replicas[0].shard.index, 2);
    await waitUntil(
      async () => String((await registry.get(staleLease)).responseBody.connectionState) === 'Disconnected',
      5000,
      'the stopped replica\u2019s lease device to disconnect',
    );
    const newcomer = await claimShard(client, hubAddr, new LightEngine(hubAddr, { tokenTtlSeconds: 3600 }), 'auto-', 2, 'newcomer', 200);
    expect(newcomer.shard).toEqual(replicas[0].shard);
    await newcomer.release();
    client.close();
    await replicas[1].stop();
  });

  it('holds devices in worker processes and merges what they count', async () => {
    const fleet = await startFleet(config({ prefix: 'workers-', devices: 6, workers: 2 }));
    const service = ServiceClient.fromConnectionString(hub.connectionString());
    try {
      await fleet.ramped;
      const pids = fleet.hosts.map((h) => h.pid);
      expect(new Set(pids).size).toBe(2);
      expect(pids).not.toContain(process.pid);
      expect(fleet.stats().counters).toMatchObject({ devices: 6, connected: 6 });
      // Index 5 lives in the second worker.
      const { result } = await service.invokeDeviceMethod(deviceId('workers-', 5, 6), { methodName: 'lockDoor', payload: {}, responseTimeoutInSeconds: 5 });
      expect(result.status).toBe(200);
    } finally {
      await service.close();
    }
    const report = await fleet.stop();
    expect(report.connect.everConnected).toBe(6);
    expect(report.connect.connectedAtStop).toBe(6);
    expect(report.methods.responses).toBe(1);
    expect(report.methods.handlingOverheadMs.count).toBe(1);
    const device = (await registry.get(deviceId('workers-', 0, 6))).responseBody;
    expect(String(device.connectionState)).toBe('Disconnected');
  });
});
