import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { openDevice, registryFor, type TwinJson } from './support/sdk.js';

type Twin = Awaited<ReturnType<Awaited<ReturnType<typeof openDevice>>['getTwin']>>;

// In memory (`--in-memory`) a cached device's twin writes stay in its record until the record
// leaves the device cache (emulator/store/device-store.ts, holdTwinWrites). A cache of 3 against
// 12 devices sends every twin here out of the cache and back: what the SDKs read afterwards
// (twin, versions, $metadata, queries) must be what they read before.
const CACHE = 3;
const id = (n: number): string => `held-${String(n).padStart(2, '0')}`;
const ids = Array.from({ length: 12 }, (_, n) => id(n));

let hub: Hub;
beforeAll(async () => {
  hub = await startTestHub({ inMemory: true, deviceCacheSize: CACHE });
  await registryFor(hub).addDevices(ids.map((deviceId) => ({ deviceId })) as never);
});
afterAll(() => hub?.stop());

/** Reads every other device's twin: more than the cache holds, so `except` leaves it. */
async function pushOutOfCache(except: string): Promise<void> {
  for (const other of ids) if (other !== except) await registryFor(hub).getTwin(other);
}

/** The twin as the service SDK reads it, as plain JSON (the SDK's Twin object holds its registry client too). */
async function twinOf(deviceId: string): Promise<TwinJson> {
  return JSON.parse(JSON.stringify((await registryFor(hub).getTwin(deviceId)).responseBody)) as TwinJson;
}

/** A device's reported patch through the SDK's twin, resolved on the hub's 204. */
function report(twin: Twin, patch: object): Promise<void> {
  return new Promise((resolve, reject) => twin.properties.reported.update(patch, (error?: Error) => (error ? reject(error) : resolve())));
}

async function queryIds(sql: string): Promise<string[]> {
  const result = await registryFor(hub).createQuery(sql, 100).nextAsTwin();
  return (result.result as unknown as TwinJson[]).map((t) => t.deviceId as string);
}

describe('twin writes held in memory', () => {
  it("keeps a device's reported patches, and a service's desired patch, when the record leaves the cache", async () => {
    const client = await openDevice(hub.deviceConnectionString(id(4)));
    try {
      const twin = await client.getTwin();
      await report(twin, { battery: 77, door: { locked: true } });
      await report(twin, { door: { locked: false } });
    } finally {
      await client.close();
    }
    await registryFor(hub).updateTwin(id(4), { tags: { site: 'north' }, properties: { desired: { mode: 'eco' } } } as never, '*');
    const before = await twinOf(id(4));
    expect(before.properties.reported).toMatchObject({ battery: 77, door: { locked: false }, $version: 3 });
    expect(before.properties.desired).toMatchObject({ mode: 'eco', $version: 2 });

    await pushOutOfCache(id(4));
    const after = await twinOf(id(4));
    // The device is disconnected, so nothing in the twin may differ: versions, etag, $metadata times.
    expect(after).toEqual(before);
    expect(await queryIds('SELECT * FROM devices WHERE properties.reported.door.locked = false')).toEqual([id(4)]);
    expect(await queryIds("SELECT * FROM devices WHERE tags.site = 'north' AND properties.desired.mode = 'eco'")).toEqual([id(4)]);
  }, 60_000);

  it('keeps a service patch to a device that never connected (nothing else of its record changed in memory)', async () => {
    await registryFor(hub).updateTwin(id(9), { tags: { floor: 3 }, properties: { desired: { fan: 'low' } } } as never, '*');
    await registryFor(hub).updateTwin(id(9), { properties: { desired: { fan: 'high' } } } as never, '*');
    const before = await twinOf(id(9));
    expect(before).toMatchObject({ tags: { floor: 3 }, version: 3, properties: { desired: { fan: 'high', $version: 3 } } });
    await pushOutOfCache(id(9));
    expect(await twinOf(id(9))).toEqual(before);
    expect(await queryIds("SELECT * FROM devices WHERE properties.desired.fan = 'high' AND tags.floor = 3")).toEqual([id(9)]);
  }, 60_000);

  it('answers a query about a held write before the record leaves the cache, and after', async () => {
    const client = await openDevice(hub.deviceConnectionString(id(7)));
    try {
      const twin = await client.getTwin();
      await report(twin, { firmware: '2.0.1' });
      expect(await queryIds("SELECT * FROM devices WHERE properties.reported.firmware = '2.0.1'")).toEqual([id(7)]);
      const versionBefore = (await twinOf(id(7))).version;
      await pushOutOfCache(id(7));
      // Connected devices stay cached; after close the record may leave like any other.
      await client.close();
      await pushOutOfCache(id(7));
      expect(await queryIds("SELECT * FROM devices WHERE properties.reported.firmware = '2.0.1'")).toEqual([id(7)]);
      const after = await twinOf(id(7));
      expect(after.version).toBe(versionBefore);
      expect(after.properties.reported.firmware).toBe('2.0.1');
      expect(after.properties.reported.$metadata.firmware.$lastUpdated).toMatch(/^\d{4}-\d\d-\d\dT/);
    } finally {
      await client.close();
    }
  }, 60_000);
});
