import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../cli/start-hub.js';
import { startTestHub } from './support/hub-factory.js';
import { call, connectDevice, JobClient, pollJob, queryAll, registerDevices, whenSubscribed, type JobDevice } from './support/job-helpers.js';
import { waitUntil } from './support/wait.js';

let hub: Hub;
let jobs: InstanceType<typeof JobClient>;
const open: JobDevice[] = [];

beforeAll(async () => {
  hub = await startTestHub();
  jobs = JobClient.fromConnectionString(hub.connectionString());
  await registerDevices(hub, ['fast', 'slow', 'offline', 'late', 'hang1', 'hang2', 'spare']);
  open.push(await connectDevice(hub, 'fast'), await connectDevice(hub, 'slow', { delayMs: 6500 }));
  open.push(await connectDevice(hub, 'hang1', { delayMs: Infinity }), await connectDevice(hub, 'hang2', { delayMs: Infinity }));
  for (const d of open) await whenSubscribed(hub, d.id, 'methods');
});

afterAll(async () => {
  await Promise.all(open.map((d) => d.close()));
  await hub?.stop();
});

async function deviceJobs(jobId: string): Promise<Record<string, any>> {
  const { items } = await queryAll(hub, `SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '${jobId}'`);
  return Object.fromEntries(items.map((r) => [r.deviceId, r]));
}

describe('device failures inside a method job', () => {
  it('fails an offline device with DeviceNotOnline and a slow one with GatewayTimeout while the others succeed', async () => {
    const started = Date.now();
    await jobs.scheduleDeviceMethod('mixed', "deviceId IN ['fast', 'slow', 'offline']", { methodName: 'lockDoor', responseTimeoutInSeconds: 5 });
    // While the slow device is still being waited for, the others are already settled.
    const midway = await waitUntil(
      async () => {
        const job = (await jobs.getJob('mixed')).jobStatus;
        return job.deviceJobStatistics.runningCount === 1 && job.deviceJobStatistics.succeededCount === 1 && job.status === 'running' ? job : undefined;
      },
      4000,
      'fast and offline settled',
    );
    expect(midway.deviceJobStatistics).toEqual({ deviceCount: 3, failedCount: 1, succeededCount: 1, runningCount: 1, pendingCount: 0 });

    const job = await pollJob(jobs, 'mixed', undefined, 10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4900);
    expect(job.status).toBe('completed');
    expect(job.deviceJobStatistics).toEqual({ deviceCount: 3, failedCount: 2, succeededCount: 1, runningCount: 0, pendingCount: 0 });
    const records = await deviceJobs('mixed');
    expect(records.fast).toMatchObject({ status: 'completed', outcome: { deviceMethodResponse: { status: 200 } } });
    expect(records.offline).toMatchObject({ status: 'failed', error: { code: 'DeviceNotOnline', description: 'Timed out waiting for device to connect.' } });
    expect(records.slow).toMatchObject({ status: 'failed', error: { code: 'GatewayTimeout', description: 'Timed out waiting for the response from device.' } });
  });

  it('waits for an offline device to come online when the job gives a connect timeout', async () => {
    // The CLI sends connectTimeoutInSeconds inside cloudToDeviceMethod (docs/protocol.md §3.6).
    const body = {
      jobId: 'wait-late',
      type: 'scheduleDeviceMethod',
      queryCondition: "deviceId = 'late'",
      cloudToDeviceMethod: { methodName: 'lockDoor', payload: {}, responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 10 },
    };
    expect((await call(hub, 'PUT', '/jobs/v2/wait-late?api-version=2021-04-12', body)).status).toBe(200);
    await waitUntil(async () => (await jobs.getJob('wait-late')).jobStatus.status === 'running', 2000, 'running');
    const late = await connectDevice(hub, 'late');
    open.push(late);
    const job = await pollJob(jobs, 'wait-late');
    expect(job.deviceJobStatistics.succeededCount).toBe(1);
    expect(late.calls).toEqual([{}]);
  });
});

describe('cancelling a running job', () => {
  it('stops dispatch: the call in flight and the device not yet called both end canceled', async () => {
    hub.scheduler.setConcurrency(1);
    try {
      await jobs.scheduleDeviceMethod('hanging', "deviceId IN ['hang1', 'hang2']", { methodName: 'lockDoor', responseTimeoutInSeconds: 30 });
      await waitUntil(async () => (await jobs.getJob('hanging')).jobStatus.deviceJobStatistics.runningCount === 1, 3000, 'one call in flight');
      const running = (await jobs.getJob('hanging')).jobStatus;
      expect(running.deviceJobStatistics).toMatchObject({ deviceCount: 2, runningCount: 1, pendingCount: 1 });

      const cancelled = (await jobs.cancelJob('hanging')).jobStatus;
      expect(cancelled.status).toBe('cancelled');
      expect(cancelled.deviceJobStatistics).toEqual({ deviceCount: 2, failedCount: 2, succeededCount: 0, runningCount: 0, pendingCount: 0 });
      const records = await deviceJobs('hanging');
      expect(Object.values(records).map((r) => r.status)).toEqual(['canceled', 'canceled']);
      expect(records.hang1.error.code).toBe('JobCancelled');
      // Only the first device was ever called.
      expect(open.find((d) => d.id === 'hang1')!.calls).toHaveLength(1);
      expect(open.find((d) => d.id === 'hang2')!.calls).toHaveLength(0);
      // Cancelling again answers the job as it is.
      expect((await jobs.cancelJob('hanging')).jobStatus.status).toBe('cancelled');
    } finally {
      hub.scheduler.setConcurrency(1000);
    }
  });
});

describe('requests the hub refuses', () => {
  const url = (id: string): string => `/jobs/v2/${id}?api-version=2021-04-12`;
  const methodJob = (id: string, extra: Record<string, unknown> = {}) => ({
    jobId: id,
    type: 'scheduleDeviceMethod',
    queryCondition: "deviceId = 'spare'",
    cloudToDeviceMethod: { methodName: 'lockDoor', responseTimeoutInSeconds: 5 },
    ...extra,
  });

  it('answers 409 JobAlreadyExists for a reused job id', async () => {
    expect((await call(hub, 'PUT', url('dup'), methodJob('dup'))).status).toBe(200);
    const again = await call(hub, 'PUT', url('dup'), methodJob('dup'));
    expect(again.status).toBe(409);
    expect(again.headers.get('iothub-errorcode')).toBe('JobAlreadyExists');
    expect(again.json.Message).toMatch(/^ErrorCode:JobAlreadyExists;/);
    const sdk = await jobs.scheduleDeviceMethod('dup', '*', { methodName: 'lockDoor' }).catch((e) => e);
    expect(sdk).toBeInstanceOf(Error);
    expect(sdk.response.statusCode).toBe(409);
  });

  it('answers 404 JobNotFound for an unknown job', async () => {
    const get = await call(hub, 'GET', url('nope'));
    expect(get.status).toBe(404);
    expect(get.headers.get('iothub-errorcode')).toBe('JobNotFound');
    expect((await call(hub, 'POST', '/jobs/v2/nope/cancel?api-version=2021-04-12')).status).toBe(404);
  });

  it('answers 400 with the position of a bad queryCondition', async () => {
    const answer = await call(hub, 'PUT', url('bad-q'), methodJob('bad-q', { queryCondition: "tags.Building = '43' AND" }));
    expect(answer.status).toBe(400);
    expect(answer.headers.get('iothub-errorcode')).toBe('ArgumentInvalid');
    expect(answer.json.Message).toMatch(/^ErrorCode:ArgumentInvalid;The queryCondition is invalid\. Syntax error at position 24/);
    expect((await call(hub, 'GET', url('bad-q'))).status).toBe(404);
  });

  it.each([
    ['no cloudToDeviceMethod', { cloudToDeviceMethod: undefined }, 'ArgumentNull'],
    ['a response timeout under 5 s', { cloudToDeviceMethod: { methodName: 'lockDoor', responseTimeoutInSeconds: 3 } }, 'ArgumentInvalid'],
    ['an unknown job type', { type: 'export' }, 'ArgumentInvalid'],
    ['an unreadable startTime', { startTime: 'tomorrow' }, 'ArgumentInvalid'],
    ['a negative maxExecutionTimeInSeconds', { maxExecutionTimeInSeconds: -5 }, 'ArgumentInvalid'],
    ['a maxExecutionTimeInSeconds past Int32', { maxExecutionTimeInSeconds: 2 ** 31 }, 'ArgumentInvalid'],
    ['a body jobId that differs from the path', { jobId: 'other' }, 'ArgumentInvalid'],
    [
      'reported properties in updateTwin',
      { type: 'scheduleUpdateTwin', cloudToDeviceMethod: undefined, updateTwin: { properties: { reported: { x: 1 } } } },
      'ArgumentInvalid',
    ],
  ])('answers 400 for %s', async (_what, extra, code) => {
    const answer = await call(hub, 'PUT', url('invalid'), methodJob('invalid', extra));
    expect(answer.status).toBe(400);
    expect(answer.headers.get('iothub-errorcode')).toBe(code);
  });

  it('accepts a numeric job id, as the Node JobClient allows', async () => {
    const created = await jobs.scheduleTwinUpdate(4242, "deviceId = 'spare'", { tags: { numbered: true } } as any);
    expect(created.jobStatus.jobId).toBe('4242');
    expect((await pollJob(jobs, '4242')).status).toBe('completed');
  });

  it('accepts the 2016 type names and answers with the current ones (docs/protocol.md §8.1)', async () => {
    const direct = await call(hub, 'PUT', url('old-direct'), methodJob('old-direct', { type: 'scheduleDirectRequest' }));
    expect(direct.json.type).toBe('scheduleDeviceMethod');
    const twin = await call(hub, 'PUT', url('old-twin'), {
      type: 'scheduleTwinUpdate',
      queryCondition: "deviceId = 'spare'",
      updateTwin: { tags: { old: true } },
    });
    expect(twin.status).toBe(200);
    expect(twin.json).toMatchObject({ jobId: 'old-twin', type: 'scheduleUpdateTwin', status: 'queued' });
    expect((await pollJob(jobs, 'old-twin')).deviceJobStatistics.succeededCount).toBe(1);
  });

  it('takes ServiceConnect or RegistryWrite to schedule and cancel, and also RegistryRead to read (EMULATOR CHOICE)', async () => {
    const asPolicy = (policy: string, id: string) => call(hub, 'PUT', url(id), methodJob(id), {}, policy);
    expect((await asPolicy('service', 'by-service')).status).toBe(200);
    expect((await asPolicy('registryReadWrite', 'by-rrw')).status).toBe(200);
    const denied = await asPolicy('registryRead', 'by-read');
    expect(denied.status).toBe(401);
    expect(denied.headers.get('iothub-errorcode')).toBe('IotHubUnauthorizedAccess');
    expect((await asPolicy('device', 'by-device')).status).toBe(401);
    expect((await call(hub, 'GET', url('by-service'), undefined, {}, 'registryRead')).status).toBe(200);
    expect((await call(hub, 'POST', '/jobs/v2/by-service/cancel', undefined, {}, 'registryRead')).status).toBe(401);
    expect((await call(hub, 'GET', '/jobs/v2/query', undefined, {}, 'device')).status).toBe(401);
  });

  it('rejects an unknown jobStatus filter with 400', async () => {
    const answer = await call(hub, 'GET', '/jobs/v2/query?jobStatus=sleeping');
    expect(answer.status).toBe(400);
  });
});

describe('the active-job limit (--max-active-jobs)', () => {
  it('answers 429 ThrottlingMaxActiveJobCountExceeded while the limit is reached, and accepts again once a job ends', async () => {
    const small = await startTestHub({ maxActiveJobs: 1 });
    try {
      const client = JobClient.fromConnectionString(small.connectionString());
      const inAnHour = new Date(Date.now() + 3600_000);
      await client.scheduleDeviceMethod('first', '*', { methodName: 'lockDoor' }, inAnHour, 60);
      const refused = await call(small, 'PUT', '/jobs/v2/second', {
        type: 'scheduleDeviceMethod',
        queryCondition: '*',
        cloudToDeviceMethod: { methodName: 'lockDoor' },
      });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('iothub-errorcode')).toBe('ThrottlingMaxActiveJobCountExceeded');
      expect(refused.json.Message).toMatch(/^ErrorCode:ThrottlingMaxActiveJobCountExceeded;/);
      const sdk = await client.scheduleDeviceMethod('second', '*', { methodName: 'lockDoor' }).catch((e) => e);
      expect(sdk.constructor.name).toBe('ThrottlingError');

      await client.cancelJob('first');
      const accepted = await client.scheduleDeviceMethod('second', '*', { methodName: 'lockDoor' });
      expect(accepted.jobStatus.status).toBe('queued');
    } finally {
      await small.stop();
    }
  });
});
