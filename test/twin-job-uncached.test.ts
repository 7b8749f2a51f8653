import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../cli/start-hub.js';
import { startTestHub, tempDataDir } from './support/hub-factory.js';
import { connectDevice, JobClient, pollJob, queryAll, Registry, whenSubscribed, type JobDevice } from './support/job-helpers.js';
import { waitUntil } from './support/wait.js';

// A twin-update job over devices that are not in the device cache (docs/scaling.md §3.1.1): the
// selection answers from the query indexes without reading a twin, each slice reads its records
// in one statement and lends them rather than caching them, and saves only the twin parts the
// change wrote. The same jobs on a hub whose cache holds every device must give the same twins,
// versions, etags, job statistics and device-job records; every read path must see the new twin
// (GET, query, a device's own twin GET, after a restart), and a connected device its notification.

const IDS = Array.from({ length: 40 }, (_, i) => `u${String(i).padStart(2, '0')}`);
const CONNECTED = 'u05';
const data = tempDataDir();
let tiny: Hub;
let roomy: Hub;
/** The connected device on each hub. */
const connected = new Map<Hub, JobDevice>();

async function prepare(hub: Hub): Promise<void> {
  const registry = Registry.fromConnectionString(hub.connectionString());
  await registry.addDevices(IDS.map((deviceId, i) => ({ deviceId, ...(i % 3 === 0 && { tags: { n: i } }) })) as never);
  // Some twins written before (their parts saved on their own), some never.
  for (const [i, id] of IDS.entries()) {
    if (i % 2 === 1) await registry.updateTwin(id, { tags: { n: i, site: 'old' }, properties: { desired: { obsolete: i, keep: 'x' } } } as never, '*');
  }
  const device = await connectDevice(hub, CONNECTED, { desired: true });
  connected.set(hub, device);
  await whenSubscribed(hub, CONNECTED, 'desired');
  await device.client.getTwin().then((twin) => twin.properties.reported.update({ r: 1 }, () => undefined));
}

async function runJob(hub: Hub, jobId: string, condition: string, patch: object): Promise<any> {
  const jobs = JobClient.fromConnectionString(hub.connectionString());
  await jobs.scheduleTwinUpdate(jobId, condition, { etag: '*', ...patch } as never, new Date(), 60);
  return pollJob(jobs, jobId);
}

/** A twin with its $metadata timestamps blanked (two hubs write them at different instants). */
function shape(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const result: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (key === '$lastUpdated' || key === 'lastActivityTime' || key === 'connectionStateUpdatedTime' || key === 'statusUpdateTime') result[key] = 't';
    else result[key] = shape(inner);
  }
  return result;
}

async function twins(hub: Hub): Promise<unknown[]> {
  const { items } = await queryAll(hub, 'SELECT * FROM devices', 17);
  return items.map(shape);
}

async function deviceJobs(hub: Hub, jobId: string): Promise<unknown[]> {
  const { items } = await queryAll(hub, `SELECT * FROM devices.jobs WHERE jobId = '${jobId}'`);
  return items.map(({ startTimeUtc: _s, endTimeUtc: _e, createdDateTimeUtc: _c, lastUpdatedDateTimeUtc: _l, ...rest }) => rest);
}

beforeAll(async () => {
  // A cache of 3 records: every job slice works on devices read from SQLite.
  tiny = await startTestHub({ inMemory: false, dataDir: data.dir, deviceCacheSize: 3 });
  roomy = await startTestHub();
  await Promise.all([prepare(tiny), prepare(roomy)]);
}, 30_000);

afterAll(async () => {
  await Promise.all([...connected.values()].map((d) => d.close()));
  await roomy?.stop();
  await tiny?.stop();
  data.remove();
});

describe('a twin-update job over devices not in the cache', () => {
  it('gives the twins, versions, etags, statistics and device-job records of a hub that caches them all', async () => {
    expect(await twins(tiny)).toEqual(await twins(roomy));
    const jobs: [string, string, object][] = [
      // Answered by the deviceId index alone (no twin read to select).
      ['j1', "STARTSWITH(deviceId, 'u')", { tags: { site: 'hq', n: null }, properties: { desired: { fw: '2', obsolete: null } } }],
      // tags.site: an index built on demand, exact (one value per twin).
      ['j2', "tags.site = 'hq'", { properties: { desired: { fw: '3', deep: { a: 1 } } } }],
      // Not answered by indexes alone (NOT): the twins are evaluated, as before.
      ['j3', "tags.site = 'hq' AND NOT (deviceId = 'u01')", { tags: { floor: 2 } }],
      // Every device, from the registry order.
      ['j4', '*', { properties: { desired: { deep: null } } }],
    ];
    for (const [jobId, condition, patch] of jobs) {
      const [a, b] = await Promise.all([runJob(tiny, jobId, condition, patch), runJob(roomy, jobId, condition, patch)]);
      expect(a.status, jobId).toBe('completed');
      expect(a.deviceJobStatistics, jobId).toEqual(b.deviceJobStatistics);
      expect(a.deviceJobStatistics.succeededCount, jobId).toBe(jobId === 'j3' ? IDS.length - 1 : IDS.length);
      expect(await deviceJobs(tiny, jobId), jobId).toEqual(await deviceJobs(roomy, jobId));
      expect(await twins(tiny), jobId).toEqual(await twins(roomy));
    }
    const registry = Registry.fromConnectionString(tiny.connectionString());
    const twin = (await registry.getTwin('u07')).responseBody as any;
    expect(twin.tags).toEqual({ site: 'hq', floor: 2 });
    expect(twin.properties.desired).toMatchObject({ fw: '3', keep: 'x', $version: 5 });
    expect(twin.properties.desired.deep).toBeUndefined();
    expect(twin.version).toBe(6);

    // The connected device got each job's desired change, with its version.
    const device = connected.get(tiny)!;
    await waitUntil(() => device.desired.some((p) => p.$version === 5), 5000, 'the connected device to receive the last desired patch');
    // (The SDK also emits its whole desired object, beside the patches.)
    expect(device.desired).toContainEqual({ fw: '2', obsolete: null, $version: 3 });
    expect(device.desired).toContainEqual({ fw: '3', deep: { a: 1 }, $version: 4 });
    expect(device.desired).toContainEqual({ deep: null, $version: 5 });
    // Its own twin GET over MQTT sees the new desired properties (and its reported one).
    const own = await device.client.getTwin();
    expect(own.properties.desired).toMatchObject({ fw: '3', keep: 'x', $version: 5 });
    expect(own.properties.reported).toMatchObject({ r: 1 });
  });

  it('leaves every twin on disk as it answered (read back after a restart)', async () => {
    const before = await twins(tiny);
    await connected.get(tiny)!.close();
    connected.delete(tiny);
    await tiny.stop();
    tiny = await startTestHub({ inMemory: false, dataDir: data.dir, deviceCacheSize: 3 });
    const after = (await twins(tiny)) as any[];
    // Nothing is connected after the restart.
    expect(after).toEqual((before as any[]).map((t) => ({ ...t, connectionState: 'Disconnected' })));
  });
});
