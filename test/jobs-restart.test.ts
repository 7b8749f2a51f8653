import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { Hub } from '../cli/start-hub.js';
import { exited, startArgs, startEmulatorCli, waitForHealth } from './support/cli-process.js';
import { startTestHub, tempDataDir } from './support/hub-factory.js';
import {
  call,
  connectDevice,
  JobClient,
  pollJob,
  processTarget,
  queryAll,
  rawLockDoorDevice,
  registerDevices,
  whenSubscribed,
  type JobDevice,
  type ServiceTarget,
} from './support/job-helpers.js';
import { waitUntil } from './support/wait.js';

// Durability (issue 3 §5): a kill while jobs are scheduled or running, then a restart on the same
// data directory, leaves every job in a correct terminal state with every device record once.

const dirs: ReturnType<typeof tempDataDir>[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs) dir.remove();
});

/** Starts `iothub-emulator start` on a free loopback address of its own (or on `host`, for a restart). */
async function startProcess(dataDir: string, host?: string, extra: string[] = []): Promise<{ child: ChildProcess; host: string }> {
  const started = await startEmulatorCli((address) => [...startArgs(address, dataDir), ...extra], { host });
  children.push(started.child);
  await waitForHealth(started.host, 20_000);
  return started;
}

async function createDevice(target: ServiceTarget, deviceId: string): Promise<string> {
  const key = randomBytes(32).toString('base64');
  const answer = await call(target, 'PUT', `/devices/${deviceId}?api-version=2021-04-12`, {
    deviceId,
    authentication: { type: 'sas', symmetricKey: { primaryKey: key, secondaryKey: key } },
  });
  expect(answer.status).toBe(200);
  return key;
}

describe('SIGKILL while jobs are scheduled and running', () => {
  it('brings every job to a terminal state after the restart, each device record exactly once', async () => {
    const data = tempDataDir();
    dirs.push(data);
    const first = await startProcess(data.dir);
    const target = processTarget(first.host);
    const jobs = JobClient.fromConnectionString(target.connectionString());

    const fast = ['k-fast1', 'k-fast2'];
    const slow = ['k-slow1', 'k-slow2', 'k-slow3'];
    const devices = [];
    for (const id of [...fast, ...slow])
      devices.push(await rawLockDoorDevice(first.host, id, await createDevice(target, id), fast.includes(id) ? 'now' : 'never'));

    // Finished before the kill: must survive as it is.
    await jobs.scheduleTwinUpdate('k-twin', "STARTSWITH(deviceId, 'k-')", { etag: '*', tags: { wing: 'east' } } as any);
    expect((await pollJob(jobs, 'k-twin')).deviceJobStatistics.succeededCount).toBe(5);
    // Scheduled an hour ahead at the kill.
    await jobs.scheduleDeviceMethod(
      'k-later',
      "deviceId IN ['k-fast1', 'k-fast2']",
      { methodName: 'lockDoor', responseTimeoutInSeconds: 5 },
      new Date(Date.now() + 3600_000),
      600,
    );
    // Running at the kill: two devices answered, three calls in flight.
    await jobs.scheduleDeviceMethod('k-run', "STARTSWITH(deviceId, 'k-')", { methodName: 'lockDoor', responseTimeoutInSeconds: 60 }, new Date(), 600);
    await waitUntil(
      async () => {
        const stats = (await jobs.getJob('k-run')).jobStatus.deviceJobStatistics;
        return stats.succeededCount === 2 && stats.runningCount === 3;
      },
      5000,
      'k-run half done',
    );
    expect((await jobs.getJob('k-later')).jobStatus.status).toBe('scheduled');

    first.child.kill('SIGKILL');
    await exited(first.child);
    for (const d of devices) d.client.end(true);
    expect(devices.map((d) => d.calls())).toEqual([1, 1, 1, 1, 1]);

    // The restart starts the job clock two hours ahead: k-later is due at once.
    const second = await startProcess(data.dir, first.host, ['--clock-offset', '7200']);
    try {
      expect((await call(target, 'GET', '/$emulator/clock')).json.offsetSeconds).toBe(7200);
      const run = await pollJob(jobs, 'k-run', undefined, 5000);
      expect(run.status).toBe('completed');
      expect(run.deviceJobStatistics).toEqual({ deviceCount: 5, failedCount: 3, succeededCount: 2, runningCount: 0, pendingCount: 0 });
      const records = (await queryAll(target, "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'k-run'")).items;
      expect(records.map((r) => r.deviceId).sort()).toEqual([...fast, ...slow].sort());
      for (const r of records) {
        if (fast.includes(r.deviceId))
          expect(r).toMatchObject({ status: 'completed', outcome: { deviceMethodResponse: { status: 200, payload: { locked: true } } } });
        // Mid-call at the kill: not called again (at most once), failed with ServiceUnavailable.
        else expect(r).toMatchObject({ status: 'failed', error: { code: 'ServiceUnavailable' } });
      }

      const later = await pollJob(jobs, 'k-later', undefined, 5000);
      expect(later.status).toBe('completed');
      // Nobody reconnected to the new process: both fail as offline, but the job did run.
      expect(later.deviceJobStatistics).toEqual({ deviceCount: 2, failedCount: 2, succeededCount: 0, runningCount: 0, pendingCount: 0 });

      const twin = await pollJob(jobs, 'k-twin', undefined, 1000);
      expect(twin.status).toBe('completed');
      const all = (await queryAll(target, 'SELECT * FROM devices.jobs')).items;
      expect(all.filter((r) => r.jobId === 'k-twin')).toHaveLength(5);
      expect(all).toHaveLength(5 + 5 + 2);
      const tagged = await call(target, 'POST', '/devices/query', { query: "SELECT COUNT() AS n FROM devices WHERE tags.wing = 'east'" });
      expect(tagged.json).toEqual([{ n: 5 }]);
    } finally {
      second.child.kill('SIGTERM');
      await exited(second.child);
    }
  }, 60_000);
});

describe('a graceful stop with devices still pending', () => {
  it('resumes dispatch after the restart and does not call the device that was mid-call again', async () => {
    const data = tempDataDir();
    dirs.push(data);
    let hub: Hub = await startTestHub({ inMemory: false, dataDir: data.dir });
    const open: JobDevice[] = [];
    try {
      await registerDevices(hub, ['p-hang', 'p-two', 'p-three']);
      const hang = await connectDevice(hub, 'p-hang', { delayMs: Infinity });
      open.push(hang);
      await whenSubscribed(hub, 'p-hang', 'methods');
      hub.scheduler.setConcurrency(1);
      // The connect timeout lets the pending devices come back after the restart (docs/protocol.md §5.3).
      const body = {
        type: 'scheduleDeviceMethod',
        queryCondition: "STARTSWITH(deviceId, 'p-')",
        cloudToDeviceMethod: { methodName: 'lockDoor', responseTimeoutInSeconds: 30, connectTimeoutInSeconds: 20 },
      };
      expect((await call(hub, 'PUT', '/jobs/v2/pending', body)).status).toBe(200);
      await waitUntil(() => hang.calls.length === 1, 3000, 'the first call');
      expect(hub.scheduler.get('pending').deviceJobStatistics).toMatchObject({ runningCount: 1, pendingCount: 2 });
      await hang.close();
      await hub.stop();

      hub = await startTestHub({ inMemory: false, dataDir: data.dir });
      const two = await connectDevice(hub, 'p-two');
      const three = await connectDevice(hub, 'p-three');
      open.push(two, three);
      const job = await pollJob(JobClient.fromConnectionString(hub.connectionString()), 'pending', undefined, 10_000);
      expect(job.status).toBe('completed');
      expect(job.deviceJobStatistics).toEqual({ deviceCount: 3, failedCount: 1, succeededCount: 2, runningCount: 0, pendingCount: 0 });
      expect(two.calls).toHaveLength(1);
      expect(three.calls).toHaveLength(1);
      const { items } = await queryAll(hub, "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'pending'");
      expect(items.find((r) => r.deviceId === 'p-hang')).toMatchObject({ status: 'failed', error: { code: 'ServiceUnavailable' } });
      expect(items).toHaveLength(3);
    } finally {
      await Promise.all(open.map((d) => d.close()));
      await hub.stop();
    }
  }, 30_000);
});
