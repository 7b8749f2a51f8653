import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../cli/start-hub.js';
import { startTestHub } from './support/hub-factory.js';
import { connectDevice, JobClient, pollJob, registerDevices, Registry, whenSubscribed, type JobDevice } from './support/job-helpers.js';
import { waitUntil } from './support/wait.js';

// A twin-update job goes through the twin service exactly as PATCH /twins/{id} does: the same
// merge rules, the same hub events (which the recording and metrics read), the same $metadata
// and the same desired-property notification on the device's own connection.

let hub: Hub;
let registry: InstanceType<typeof Registry>;
let jobs: InstanceType<typeof JobClient>;
const devices: JobDevice[] = [];
const events: { deviceId: string; side: string; section: string; patch: unknown; version: number }[] = [];

beforeAll(async () => {
  hub = await startTestHub();
  registry = Registry.fromConnectionString(hub.connectionString());
  jobs = JobClient.fromConnectionString(hub.connectionString());
  await registerDevices(hub, ['via-patch', 'via-job']);
  // The same starting twin on both, with a desired property the patch deletes.
  for (const id of ['via-patch', 'via-job']) {
    await registry.updateTwin(id, { tags: { site: 'old' }, properties: { desired: { obsolete: 1, lock: { mode: 'manual' } } } } as never, '*');
  }
  devices.push(...(await Promise.all(['via-patch', 'via-job'].map((id) => connectDevice(hub, id, { desired: true })))));
  await Promise.all(['via-patch', 'via-job'].map((id) => whenSubscribed(hub, id, 'desired')));
  hub.events.on('twinUpdated', (e) => events.push({ deviceId: e.deviceId, side: e.side, section: e.section, patch: e.patch, version: e.version }));
});

afterAll(async () => {
  await Promise.all(devices.map((d) => d.close()));
  await hub?.stop();
});

/** $metadata with every $lastUpdated checked to be a hub timestamp and then blanked, so two twins compare by shape and versions. */
function metadataShape(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const result: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (key === '$lastUpdated') {
      expect(inner).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
      result[key] = 'timestamp';
    } else result[key] = metadataShape(inner);
  }
  return result;
}

describe('a scheduleUpdateTwin job and PATCH /twins/{id}', () => {
  it('produce the same events, $metadata and desired notifications', async () => {
    const patch = { tags: { site: 'hq', floor: 3 }, properties: { desired: { obsolete: null, lock: { mode: 'auto', delaySeconds: 5 } } } };
    // The patch notifications themselves (the SDK also emits its whole, merged desired object,
    // which no longer holds `obsolete`).
    const notifications = (d: JobDevice) => d.desired.filter((p) => 'obsolete' in p && p.obsolete === null);
    const notified = (d: JobDevice): boolean => notifications(d).length > 0;

    await registry.updateTwin('via-patch', patch as never, '*');
    await waitUntil(() => notified(devices[0]!), 5000, 'the PATCHed device to receive its desired patch');

    await jobs.scheduleTwinUpdate('parity', "deviceId = 'via-job'", { etag: '*', ...patch } as never, new Date(), 60);
    const job = await pollJob(jobs, 'parity');
    expect(job.status).toBe('completed');
    expect(job.deviceJobStatistics).toMatchObject({ deviceCount: 1, succeededCount: 1 });
    await waitUntil(() => notified(devices[1]!), 5000, "the job's device to receive its desired patch");

    // Hub events: the same sections, patches and versions, in the same order.
    const of = (id: string) => events.filter((e) => e.deviceId === id).map(({ deviceId: _, ...rest }) => rest);
    expect(of('via-patch')).toEqual([
      { side: 'service', section: 'tags', patch: patch.tags, version: expect.any(Number) },
      { side: 'service', section: 'desired', patch: patch.properties.desired, version: expect.any(Number) },
    ]);
    expect(of('via-job')).toEqual(of('via-patch'));

    // The notification each device received, $version included.
    expect(notifications(devices[1]!)).toEqual(notifications(devices[0]!));
    expect(notifications(devices[0]!)).toHaveLength(1);
    expect(notifications(devices[0]!)[0]).toEqual({ obsolete: null, lock: { mode: 'auto', delaySeconds: 5 }, $version: expect.any(Number) });

    // The twins: same content, versions, etag movement and $metadata (timestamps aside).
    const viaPatch = (await registry.getTwin('via-patch')).responseBody as any;
    const viaJob = (await registry.getTwin('via-job')).responseBody as any;
    expect(viaJob.tags).toEqual({ site: 'hq', floor: 3 });
    expect(viaJob.tags).toEqual(viaPatch.tags);
    expect(viaJob.version).toBe(viaPatch.version);
    expect(viaJob.etag).toBe(viaPatch.etag);
    const { $metadata: jobMeta, ...jobDesired } = viaJob.properties.desired;
    const { $metadata: patchMeta, ...patchDesired } = viaPatch.properties.desired;
    expect(jobDesired).toEqual({ lock: { mode: 'auto', delaySeconds: 5 }, $version: patchDesired.$version });
    expect(jobDesired).toEqual(patchDesired);
    expect(metadataShape(jobMeta)).toEqual(metadataShape(patchMeta));
    expect(jobMeta.lock.delaySeconds.$lastUpdatedVersion).toBe(patchDesired.$version);
    expect(jobMeta.obsolete).toBeUndefined();
  });
});
