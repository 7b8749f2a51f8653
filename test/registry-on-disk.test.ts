import { afterAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { c2dMessage, openServiceClient } from './support/c2d.js';
import { startTestHub, tempDataDir } from './support/hub-factory.js';
import { openDevice, registryFor, rest, type TwinJson } from './support/sdk.js';
import { waitUntil } from './support/wait.js';

// The device store reads records from SQLite on demand and keeps only `deviceCacheSize` of them
// parsed (docs/scaling.md §3.1). A cache of 3 against 30 devices makes every path here go through
// reads from disk, evictions and write-backs with small numbers.
const CACHE = 3;
const N = 30;
const id = (n: number): string => `disk-${String(n).padStart(2, '0')}`;
const ids = Array.from({ length: N }, (_, n) => id(n));

const data = tempDataDir();
afterAll(() => data.remove());

async function queryIds(hub: Hub, sql = 'SELECT * FROM devices'): Promise<string[]> {
  const result = await registryFor(hub).createQuery(sql, 100).nextAsTwin();
  return (result.result as unknown as TwinJson[]).map((t) => t.deviceId as string);
}

describe('a registry larger than the device cache, on disk', () => {
  let host: string;

  it('registers in bulk, with tags, and answers every device from disk', async () => {
    const hub = await startTestHub({ inMemory: false, dataDir: data.dir, deviceCacheSize: CACHE });
    host = hub.options.host;
    try {
      const registry = registryFor(hub);
      const devices = ids.map((deviceId, n) => ({ deviceId, status: n === 5 ? 'disabled' : 'enabled', tags: { n, even: n % 2 === 0 } }));
      const added = await registry.addDevices(devices as never);
      expect(added.responseBody.isSuccessful).toBe(true);
      for (const n of [0, 17, 29]) expect((await registry.getTwin(id(n))).responseBody.tags).toEqual({ n, even: n % 2 === 0 });
      expect(await queryIds(hub)).toEqual(ids);
      expect(await queryIds(hub, 'SELECT * FROM devices WHERE tags.even = true')).toEqual(ids.filter((_, n) => n % 2 === 0));
      const stats = await rest(hub, 'GET', '/statistics/devices?api-version=2021-04-12');
      expect(stats.json).toEqual({ totalDeviceCount: N, enabledDeviceCount: N - 1, disabledDeviceCount: 1 });
      // A bulk call refused as a whole (an id twice) writes nothing.
      const refused = await rest(hub, 'POST', '/devices?api-version=2021-04-12', [{ id: 'disk-new' }, { id: 'disk-new' }]);
      expect(refused.status).toBe(400);
      expect(refused.headers.get('iothub-errorcode')).toBe('DeviceDefinedMultipleTimes');
      expect((await rest(hub, 'GET', '/devices/disk-new?api-version=2021-04-12')).status).toBe(404);
      // Per-item errors: the others commit, the failing one is reported, as before.
      const mixed = await rest(hub, 'POST', '/devices?api-version=2021-04-12', [
        { id: id(3), importMode: 'create' },
        { id: 'disk-30', importMode: 'create' },
      ]);
      expect(mixed.json.errors).toEqual([expect.objectContaining({ deviceId: id(3), errorCode: 'DeviceAlreadyExists' })]);
      await registry.delete('disk-30');
    } finally {
      await hub.stop();
    }
  }, 60_000);

  it('after a restart, devices touched before anything was read are answered correctly', async () => {
    const hub = await startTestHub({ inMemory: false, dataDir: data.dir, host, deviceCacheSize: CACHE });
    const client = await openDevice(hub.deviceConnectionString(id(20)));
    try {
      const registry = registryFor(hub);
      // All at once, right after /health says ready: a GET, a twin PATCH, a connect (above) and a delete.
      const [twin, patched, deleted] = await Promise.all([
        registry.getTwin(id(7)),
        rest(hub, 'PATCH', `/twins/${id(12)}?api-version=2021-04-12`, { tags: { patched: true } }),
        rest(hub, 'DELETE', `/devices/${id(25)}?api-version=2021-04-12`, undefined, { 'if-match': '*' }),
      ]);
      expect(twin.responseBody.tags).toEqual({ n: 7, even: false });
      expect(patched.status).toBe(200);
      expect(patched.json.tags).toEqual({ n: 12, even: true, patched: true });
      expect(patched.json.version).toBe(3);
      expect(deleted.status).toBe(204);
      expect((await rest(hub, 'GET', `/devices/${id(25)}?api-version=2021-04-12`)).status).toBe(404);
      const deviceTwin = await client.getTwin();
      expect(deviceTwin.properties.desired.$version).toBe(1);

      // The connected device stays in the cache however many others are read meanwhile.
      for (const n of [0, 1, 2, 3, 4, 6, 8, 9]) await registry.getTwin(id(n));
      expect(((await registry.getTwin(id(20))).responseBody as unknown as TwinJson).connectionState).toBe('Connected');
      expect(await queryIds(hub)).toEqual(ids.filter((_, n) => n !== 25));
      const stats = await rest(hub, 'GET', '/statistics/devices?api-version=2021-04-12');
      expect(stats.json).toEqual({ totalDeviceCount: N - 1, enabledDeviceCount: N - 2, disabledDeviceCount: 1 });
      await client.close();
      await waitUntil(
        async () => ((await registry.getTwin(id(20))).responseBody as unknown as TwinJson).connectionState === 'Disconnected',
        10_000,
        'the disconnect',
      );
    } finally {
      await client.close().catch(() => undefined);
      await hub.stop();
    }
  }, 60_000);

  it('keeps what the hub changes only in memory when a record leaves the cache', async () => {
    const hub = await startTestHub({ inMemory: false, dataDir: data.dir, host, deviceCacheSize: CACHE });
    const { client: service } = await openServiceClient(hub);
    try {
      const registry = registryFor(hub);
      await service.send(id(9), c2dMessage('waiting', { messageId: 'disk-c2d' }));
      const count = async (): Promise<number> =>
        ((await registry.get(id(9))).responseBody as unknown as { cloudToDeviceMessageCount: number }).cloudToDeviceMessageCount;
      expect(await count()).toBe(1);
      // Push id(9) out of the cache, then read it again from disk.
      for (const n of [0, 1, 2, 3, 4, 6]) await registry.getTwin(id(n));
      expect(await count()).toBe(1);
      const twin = (await registry.getTwin(id(12))).responseBody as unknown as TwinJson;
      expect(twin.tags).toEqual({ n: 12, even: true, patched: true });
      expect(twin.version).toBe(3);
    } finally {
      await service.close();
      await hub.stop();
    }
  }, 60_000);
});
