import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { call, connectDevice, JobClient, pollJob, queryAll, registerDevices, Registry, whenSubscribed, type JobDevice } from './support/job-helpers.js';
import { waitUntil } from './support/wait.js';

// The seed tutorial ("Schedule and broadcast jobs", Node): lockDoor on a selection of devices,
// a twin update job, getJob polled until completed — all through the unmodified SDKs.

let hub: Hub;
let jobs: InstanceType<typeof JobClient>;
let registry: InstanceType<typeof Registry>;
const devices: JobDevice[] = [];
const ids = ['a', 'b', 'c', 'd'];
const finished: { jobId: string; status: string }[] = [];
const deviceOperations: { jobId: string; deviceId: string; outcome: string }[] = [];

beforeAll(async () => {
  hub = await startTestHub();
  jobs = JobClient.fromConnectionString(hub.connectionString());
  registry = Registry.fromConnectionString(hub.connectionString());
  hub.events.on('jobFinished', (e) => finished.push({ jobId: e.jobId, status: e.status }));
  hub.events.on('jobDeviceFinished', (e) => deviceOperations.push({ jobId: e.jobId, deviceId: e.deviceId, outcome: e.outcome }));
  await registerDevices(hub, ids);
  await registry.updateTwin('c', { tags: { Building: '43' } }, '*');
  await registry.updateTwin('d', { tags: { Building: '43' } }, '*');
  devices.push(...(await Promise.all(ids.map((id) => connectDevice(hub, id, { desired: true })))));
  await Promise.all(ids.map((id) => whenSubscribed(hub, id, 'methods')));
  await Promise.all(ids.map((id) => whenSubscribed(hub, id, 'desired')));
});

afterAll(async () => {
  await Promise.all(devices.map((d) => d.close()));
  await hub?.stop();
});

const device = (id: string): JobDevice => devices.find((d) => d.id === id)!;
/** Each device's method calls so far: a test compares what its own job added. */
const callCounts = (): Record<string, number> => Object.fromEntries(devices.map((d) => [d.id, d.calls.length]));
const callsSince = (before: Record<string, number>, id: string): unknown[] => device(id).calls.slice(before[id]);

describe('scheduleDeviceMethod (lockDoor)', () => {
  it("runs on deviceId IN ['a','b'] only, and getJob reports it completed with statistics", async () => {
    const before = callCounts();
    const created = await jobs.scheduleDeviceMethod(
      'lock-ab',
      "deviceId IN ['a','b']",
      { methodName: 'lockDoor', payload: { by: 'tutorial' }, responseTimeoutInSeconds: 5 },
      new Date(),
      300,
    );
    // The real hub answers the PUT with the job queued (docs/protocol.md §3.6); the Node e2e test asserts both.
    expect(created.jobStatus.jobId).toBe('lock-ab');
    expect(created.jobStatus.status).toBe('queued');
    expect(created.jobStatus.type).toBe('scheduleDeviceMethod');

    const job = await pollJob(jobs, 'lock-ab');
    expect(job.status).toBe('completed');
    expect(job.deviceJobStatistics).toEqual({ deviceCount: 2, failedCount: 0, succeededCount: 2, runningCount: 0, pendingCount: 0 });
    expect(job.queryCondition).toBe("deviceId IN ['a','b']");
    expect(job.maxExecutionTimeInSeconds).toBe(300);
    expect(job.cloudToDeviceMethod).toEqual({ methodName: 'lockDoor', payload: { by: 'tutorial' }, responseTimeoutInSeconds: 5 });
    expect(job.createdTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
    expect(Date.parse(job.endTime)).toBeGreaterThanOrEqual(Date.parse(job.startTime));
    expect(callsSince(before, 'a')).toEqual([{ by: 'tutorial' }]);
    expect(callsSince(before, 'b')).toEqual([{ by: 'tutorial' }]);
    expect(callsSince(before, 'c')).toEqual([]);
    // Hub events, which the recording and /metrics count.
    expect(finished).toContainEqual({ jobId: 'lock-ab', status: 'completed' });
    expect(
      deviceOperations
        .filter((e) => e.jobId === 'lock-ab')
        .map((e) => `${e.deviceId}:${e.outcome}`)
        .sort(),
    ).toEqual(['a:completed', 'b:completed']);
  });

  it("selects by tag: tags.Building = '43'", async () => {
    const before = callCounts();
    await jobs.scheduleDeviceMethod('lock-43', "tags.Building = '43'", { methodName: 'lockDoor', responseTimeoutInSeconds: 5 });
    const job = await pollJob(jobs, 'lock-43');
    expect(job.status).toBe('completed');
    expect(job.deviceJobStatistics.deviceCount).toBe(2);
    expect(job.deviceJobStatistics.succeededCount).toBe(2);
    // The promise form sends "startTime": null and no max time: start now, an hour at most (docs/protocol.md §3.6).
    expect(job.maxExecutionTimeInSeconds).toBe(3600);
    expect(callsSince(before, 'c')).toEqual([null]);
    expect(callsSince(before, 'd')).toEqual([null]);
    expect(callsSince(before, 'a')).toEqual([]);
  });

  it('records one device job per device, queryable as devices.jobs through Registry.createQuery', async () => {
    await jobs.scheduleDeviceMethod('records-ab', "deviceId IN ['a','b']", { methodName: 'lockDoor', responseTimeoutInSeconds: 5 });
    await jobs.scheduleDeviceMethod('records-c', "deviceId = 'c'", { methodName: 'lockDoor', responseTimeoutInSeconds: 5 });
    expect((await pollJob(jobs, 'records-ab')).status).toBe('completed');
    expect((await pollJob(jobs, 'records-c')).status).toBe('completed');
    const query = registry.createQuery("SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'records-ab'");
    const page = await query.next();
    expect(query.hasMoreResults).toBe(false);
    const records = (page.result as any[]).sort((x, y) => x.deviceId.localeCompare(y.deviceId));
    expect(records.map((r) => r.deviceId)).toEqual(['a', 'b']);
    for (const record of records) {
      expect(record).toMatchObject({
        jobId: 'records-ab',
        jobType: 'scheduleDeviceMethod',
        status: 'completed',
        outcome: { deviceMethodResponse: { status: 200, payload: { locked: true, device: record.deviceId } } },
      });
      expect(record.createdDateTimeUtc).toMatch(/Z$/);
      expect(record.lastUpdatedDateTimeUtc).toMatch(/Z$/);
      expect(record).not.toHaveProperty('error');
    }
    // Filtered by device: c's records only (other tests' jobs on c may be there too), records-c among them, records-ab not.
    const answer = await call(hub, 'POST', '/devices/query?api-version=2021-04-12', { query: "SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'c'" });
    expect(answer.headers.get('x-ms-item-type')).toBe('DeviceJob');
    expect(answer.json.every((r: any) => r.deviceId === 'c')).toBe(true);
    expect(answer.json.map((r: any) => r.jobId)).toContain('records-c');
    expect(answer.json.map((r: any) => r.jobId)).not.toContain('records-ab');
  });
});

describe('scheduleTwinUpdate', () => {
  it('writes tags and desired properties on the selected twins, and the devices receive the desired patch', async () => {
    const patch = { etag: '*', tags: { floor: '3' }, properties: { desired: { building: '43', floor: 3 } } };
    const created = await jobs.scheduleTwinUpdate('twin-43', "tags.Building = '43'", patch as any, new Date(), 300);
    expect(created.jobStatus.status).toBe('queued');
    const job = await pollJob(jobs, 'twin-43');
    expect(job.status).toBe('completed');
    expect(job.type).toBe('scheduleUpdateTwin');
    expect(job.updateTwin).toEqual(patch);
    expect(job.deviceJobStatistics).toEqual({ deviceCount: 2, failedCount: 0, succeededCount: 2, runningCount: 0, pendingCount: 0 });

    for (const id of ['c', 'd']) {
      const twin = (await registry.getTwin(id)).responseBody as any;
      expect(twin.tags).toEqual({ Building: '43', floor: '3' });
      expect(twin.properties.desired).toMatchObject({ building: '43', floor: 3 });
      await waitUntil(() => device(id).desired.some((p) => p.building === '43' && p.floor === 3), 3000, `${id} desired patch`);
    }
    const untouched = (await registry.getTwin('a')).responseBody as any;
    expect(untouched.tags).not.toHaveProperty('floor');
    expect(device('a').desired.some((p) => p.building === '43')).toBe(false);

    const { items } = await queryAll(hub, "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'twin-43'");
    expect(items).toHaveLength(2);
    for (const record of items) expect(record).toMatchObject({ jobType: 'scheduleUpdateTwin', status: 'completed', outcome: { deviceMethodResponse: null } });
  });

  it('checks a concrete etag per device: a stale one fails that device with PreconditionFailed', async () => {
    const current = ((await registry.getTwin('a')).responseBody as any).etag;
    await registry.updateTwin('b', { tags: { moved: true } }, '*');
    const before = ((await registry.getTwin('b')).responseBody as any).etag;
    expect(before).not.toBe(current);
    await jobs.scheduleTwinUpdate('twin-etag', "deviceId IN ['a','b']", { etag: current, tags: { checked: true } } as any);
    const job = await pollJob(jobs, 'twin-etag');
    // a still holds the etag read above; b moved on, so only a matches.
    expect(job.deviceJobStatistics.deviceCount).toBe(2);
    const { items } = await queryAll(hub, "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'twin-etag'");
    const byId = Object.fromEntries(items.map((r) => [r.deviceId, r]));
    const twinA = (await registry.getTwin('a')).responseBody as any;
    expect(twinA.tags.checked).toBe(true);
    expect(byId.a.status).toBe('completed');
    expect(byId.b).toMatchObject({ status: 'failed', error: { code: 'PreconditionFailed' } });
    expect(((await registry.getTwin('b')).responseBody as any).tags.checked).toBeUndefined();
    expect(job.deviceJobStatistics).toMatchObject({ succeededCount: 1, failedCount: 1 });
  });
});

describe('cancel and list', () => {
  it('cancels a scheduled job: it never runs', async () => {
    const inAnHour = new Date(Date.now() + 3600_000);
    await jobs.scheduleDeviceMethod('later', '*', { methodName: 'lockDoor', responseTimeoutInSeconds: 5 }, inAnHour, 60);
    // Due at the same time and left alone: once it has run, 'later' would have run too.
    await jobs.scheduleDeviceMethod('later-witness', "deviceId = 'nobody'", { methodName: 'lockDoor', responseTimeoutInSeconds: 5 }, inAnHour, 60);
    await waitUntil(async () => (await jobs.getJob('later')).jobStatus.status === 'scheduled', 2000, 'scheduled');
    const cancelled = (await jobs.cancelJob('later')).jobStatus;
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.endTime).toBeDefined();
    expect(cancelled.deviceJobStatistics.deviceCount).toBe(0);
    const calls = devices.map((d) => d.calls.length);
    await call(hub, 'POST', '/$emulator/clock/advance', { seconds: 7200 });
    expect((await pollJob(jobs, 'later-witness')).status).toBe('completed');
    expect((await jobs.getJob('later')).jobStatus.status).toBe('cancelled');
    expect(devices.map((d) => d.calls.length)).toEqual(calls);
  });

  it('lists jobs through JobClient.createQuery, filtered by type and status', async () => {
    // Jobs of its own, one of each kind and ending; the list holds other tests' jobs as well.
    const nobody = "deviceId = 'nobody'";
    await jobs.scheduleDeviceMethod('list-method', nobody, { methodName: 'lockDoor', responseTimeoutInSeconds: 5 });
    await jobs.scheduleTwinUpdate('list-twin', nobody, { etag: '*', tags: { listed: true } } as any);
    await jobs.scheduleDeviceMethod(
      'list-cancelled',
      nobody,
      { methodName: 'lockDoor', responseTimeoutInSeconds: 5 },
      new Date(Date.now() + 10 * 86_400_000),
      60,
    );
    await jobs.cancelJob('list-cancelled');
    expect((await pollJob(jobs, 'list-method')).status).toBe('completed');
    expect((await pollJob(jobs, 'list-twin')).status).toBe('completed');
    const mine = (list: any[]): string[] => list.map((j) => j.jobId).filter((id: string) => id.startsWith('list-'));

    const all = jobs.createQuery();
    const page = await all.next();
    expect(all.hasMoreResults).toBe(false);
    const allIds = (page.result as any[]).map((j) => j.jobId);
    expect(mine(page.result as any[])).toEqual(['list-method', 'list-twin', 'list-cancelled']);
    expect(page.message.headers['x-ms-item-type']).toBe('JobResponse');

    const twinJobs = (await jobs.createQuery('scheduleUpdateTwin').next()).result as any[];
    expect(twinJobs.every((j) => j.type === 'scheduleUpdateTwin')).toBe(true);
    expect(mine(twinJobs)).toEqual(['list-twin']);
    const cancelled = (await jobs.createQuery(undefined, 'cancelled').next()).result as any[];
    expect(cancelled.every((j) => j.status === 'cancelled')).toBe(true);
    expect(mine(cancelled)).toEqual(['list-cancelled']);
    // C# sends its enum names (docs/protocol.md §3.6): matched case-insensitively.
    const csharp = await call(hub, 'GET', '/jobs/v2/query?api-version=2021-04-12&jobType=ScheduleDeviceMethod&jobStatus=Completed');
    expect(csharp.json.every((j: any) => j.type === 'scheduleDeviceMethod' && j.status === 'completed')).toBe(true);
    expect(mine(csharp.json)).toEqual(['list-method']);

    // The promise form of Query.next() drops the token it holds (it only uses an argument), so
    // the token is passed back explicitly, as a caller of the real hub must.
    const paged = jobs.createQuery(undefined, undefined, 2);
    const seen: string[] = [];
    let pages = 0;
    while (paged.hasMoreResults && pages++ < 100) seen.push(...((await paged.next(paged.continuationToken)).result as any[]).map((j) => j.jobId));
    expect(pages).toBe(Math.ceil(allIds.length / 2));
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual(allIds);
  });
});
