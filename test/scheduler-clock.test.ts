import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../emulator/clock.js';
import type { Hub } from '../emulator/hub.js';
import { ClockTimers } from '../scheduler/clock-timers.js';
import { startTestHub } from './support/hub-factory.js';
import { call, connectDevice, JobClient, pollJob, queryAll, registerDevices, whenSubscribed, type JobDevice } from './support/job-helpers.js';
import { waitUntil } from './support/wait.js';

describe('ClockTimers', () => {
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

  it('fires a timer early when the clock is advanced past it, never synchronously', async () => {
    const clock = new Clock();
    const timers = new ClockTimers(clock);
    const fired: string[] = [];
    timers.at(clock.now() + 3600_000, () => fired.push('hour'));
    timers.at(clock.now() + 86_400_000 * 40, () => fired.push('forty days'));
    clock.advance(3599_000);
    await tick();
    expect(fired).toEqual([]);
    clock.advance(1000);
    expect(fired).toEqual([]);
    await tick();
    expect(fired).toEqual(['hour']);
    clock.advance(86_400_000 * 40);
    await tick();
    expect(fired).toEqual(['hour', 'forty days']);
    timers.close();
  });

  it('does not fire a cancelled timer, nor any after close()', async () => {
    const clock = new Clock();
    const timers = new ClockTimers(clock);
    const fired: string[] = [];
    const cancel = timers.at(clock.now() + 1000, () => fired.push('cancelled'));
    timers.at(clock.now() + 1000, () => fired.push('closed'));
    cancel();
    timers.close();
    clock.advance(5000);
    await tick();
    expect(fired).toEqual([]);
  });

  it('still fires on real time when nobody moves the clock', async () => {
    const clock = new Clock();
    const timers = new ClockTimers(clock);
    const fired = new Promise<number>((resolve) => timers.at(clock.now() + 30, () => resolve(clock.now())));
    const due = clock.now() + 30;
    expect(await fired).toBeGreaterThanOrEqual(due);
    timers.close();
  });
});

describe('the clock through REST (/$emulator/clock)', () => {
  let hub: Hub;
  let jobs: InstanceType<typeof JobClient>;
  const devices: JobDevice[] = [];

  beforeAll(async () => {
    hub = await startTestHub();
    jobs = JobClient.fromConnectionString(hub.connectionString());
    await registerDevices(hub, ['door', 'stuck']);
    devices.push(await connectDevice(hub, 'door'), await connectDevice(hub, 'stuck', { delayMs: Infinity }));
    await whenSubscribed(hub, 'door', 'methods');
    await whenSubscribed(hub, 'stuck', 'methods');
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await hub?.stop();
  });

  it('reads the clock and its offset with any service SAS, and refuses anonymous calls', async () => {
    const read = await call(hub, 'GET', '/$emulator/clock', undefined, {}, 'device');
    expect(read.status).toBe(200);
    // Real time plus the offset (0 on a fresh hub; other tests of this file move it forward).
    expect(read.json.offsetSeconds).toBeGreaterThanOrEqual(0);
    expect(Math.abs(Date.parse(read.json.now) - read.json.offsetSeconds * 1000 - Date.now())).toBeLessThan(2000);
    const anonymous = await fetch(`https://${hub.hostName}/$emulator/clock`);
    expect(anonymous.status).toBe(401);
  });

  it('refuses to move the clock backwards or by something that is not a number', async () => {
    for (const body of [{ seconds: -1 }, { seconds: '60' }, {}, { seconds: 1e12 }]) {
      const answer = await call(hub, 'POST', '/$emulator/clock/advance', body);
      expect(answer.status).toBe(400);
      expect(answer.headers.get('iothub-errorcode')).toBe('ArgumentInvalid');
    }
  });

  it('runs a job scheduled an hour ahead as soon as the clock is advanced past its start', async () => {
    const inAnHour = new Date(Date.now() + 3600_000);
    const earlierCalls = devices[0]!.calls.length;
    await jobs.scheduleDeviceMethod(
      'hourly',
      "deviceId = 'door'",
      { methodName: 'lockDoor', payload: { at: 'dawn' }, responseTimeoutInSeconds: 5 },
      inAnHour,
      600,
    );
    await waitUntil(async () => (await jobs.getJob('hourly')).jobStatus.status === 'scheduled', 2000, 'scheduled');
    // A job due now has run to its end: had 'hourly' been taken as due, it would have run as well.
    await jobs.scheduleDeviceMethod('hourly-witness', "deviceId = 'nobody'", { methodName: 'lockDoor', responseTimeoutInSeconds: 5 }, new Date(), 600);
    expect((await pollJob(jobs, 'hourly-witness')).status).toBe('completed');
    expect((await jobs.getJob('hourly')).jobStatus.status).toBe('scheduled');
    expect(devices[0]!.calls.slice(earlierCalls)).toEqual([]);

    const { offsetSeconds } = (await call(hub, 'GET', '/$emulator/clock')).json;
    const advanced = await call(hub, 'POST', '/$emulator/clock/advance', { seconds: 3600 });
    expect(advanced.status).toBe(200);
    expect(advanced.json.offsetSeconds).toBe(offsetSeconds + 3600);
    const job = await pollJob(jobs, 'hourly', undefined, 3000);
    expect(job.status).toBe('completed');
    expect(job.deviceJobStatistics.succeededCount).toBe(1);
    expect(devices[0]!.calls.slice(earlierCalls)).toEqual([{ at: 'dawn' }]);
    // Job times are emulator time: the job ran "an hour from now".
    expect(Date.parse(job.endTime)).toBeGreaterThanOrEqual(inAnHour.getTime());
  });

  it('ends unfinished devices with JobTimeout when maxExecutionTimeInSeconds passes (EMULATOR CHOICE)', async () => {
    // Start "now" in real time, which the clock (never behind it) has reached: they run at once.
    await jobs.scheduleDeviceMethod('slowpoke', "deviceId IN ['door', 'stuck']", { methodName: 'lockDoor', responseTimeoutInSeconds: 300 }, new Date(), 120);
    await jobs.scheduleDeviceMethod('all-stuck', "deviceId = 'stuck'", { methodName: 'lockDoor', responseTimeoutInSeconds: 300 }, new Date(), 120);
    await waitUntil(async () => (await jobs.getJob('slowpoke')).jobStatus.deviceJobStatistics.succeededCount === 1, 3000, 'door answered');
    expect((await jobs.getJob('slowpoke')).jobStatus.status).toBe('running');
    await waitUntil(async () => (await jobs.getJob('all-stuck')).jobStatus.status === 'running', 3000, 'all-stuck running');

    await call(hub, 'POST', '/$emulator/clock/advance', { seconds: 121 });
    const partial = await pollJob(jobs, 'slowpoke', undefined, 3000);
    expect(partial.status).toBe('completed');
    expect(partial.statusMessage).toMatch(/maxExecutionTimeInSeconds \(120 s\)/);
    expect(partial.deviceJobStatistics).toEqual({ deviceCount: 2, failedCount: 1, succeededCount: 1, runningCount: 0, pendingCount: 0 });
    const none = await pollJob(jobs, 'all-stuck', undefined, 3000);
    expect(none.status).toBe('failed');
    expect(none.failureReason).toMatch(/maxExecutionTimeInSeconds/);

    const { items } = await queryAll(hub, "SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'stuck'");
    expect(items.map((r) => [r.jobId, r.status, r.error?.code])).toEqual([
      ['slowpoke', 'failed', 'JobTimeout'],
      ['all-stuck', 'failed', 'JobTimeout'],
    ]);
    // The execution window the records carry: start … start + maxExecutionTimeInSeconds.
    expect(Date.parse(items[0].endTimeUtc) - Date.parse(items[0].startTimeUtc)).toBe(120_000);
  });
});
