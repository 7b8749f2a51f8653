import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHub } from '../cli/start-hub.js';
import { readServiceChange } from '../emulator/twin/twin-service.js';
import type { Bench, BenchRow } from './support/harness.js';
import { smallTwinDevice } from './support/registration-floor.js';

// Issue 15's twin-update job figure alone, in process (docs/scaling.md §5): the hub with its
// scheduler on an on-disk data directory, DEVICES twins registered through RegistryService's own
// record builders (no HTTPS: registration is measured in `scale`), then one scheduleUpdateTwin job
// over 1,000 of them and one over all, timed from the job's startTime to its endTime as GET
// /jobs/v2/{id} reports them. The 1,000-device job scaled to N is the baseline.
//
// BENCH_TWIN_JOB_LAST=N runs `scale`'s job instead, without its HTTPS registration: DEVICES small
// twins (three tags, one desired property), the hub restarted on them with the scale bench's
// declared indexes, a one-device job that builds them (the pass that leaves the first records in
// the device cache), then the job over the last 1,000 and over the last N registered: devices not
// in the cache. DEVICES must then be a multiple of 100,000 above N (the prefix selects the last N).
const DEVICES = Number(process.env.BENCH_TWIN_JOB_DEVICES ?? 100_000);
const LAST = process.env.BENCH_TWIN_JOB_LAST === undefined ? undefined : Number(process.env.BENCH_TWIN_JOB_LAST);
const id = (n: number): string => `scale-${String(n).padStart(7, '0')}`;
const INDEXED = ['deviceId', 'tags.building', 'tags.floor'];

type Hub = Awaited<ReturnType<typeof startHub>>;

export const bench: Bench = {
  name: 'twin-job',
  description: `a twin-update job over ${LAST === undefined ? '' : `the last ${LAST.toLocaleString('en')} of `}${DEVICES.toLocaleString('en')} devices (in process, on disk), load average ${os.loadavg()[0]!.toFixed(1)} at start`,
  async run() {
    if (LAST !== undefined && (LAST % 1000 !== 0 || LAST >= DEVICES || (DEVICES - LAST) % 100_000 !== 0))
      throw new Error('BENCH_TWIN_JOB_LAST: a multiple of 1,000 below BENCH_TWIN_JOB_DEVICES, which less it is a multiple of 100,000');
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-bench-twin-job-'));
    const options = { dataDir, inMemory: false, host: '127.0.0.216', httpsPort: 0, mqttPort: 0, amqpPort: 0, logLevel: 'warn' } as const;
    let hub = await startHub(options);
    try {
      const t0 = performance.now();
      for (let start = 0; start < DEVICES; start += 1000) {
        const created = [];
        for (let n = start; n < Math.min(start + 1000, DEVICES); n++) {
          if (LAST === undefined) {
            created.push(hub.registry.prepareCreate({ deviceId: id(n) }));
            continue;
          }
          const device = smallTwinDevice(n);
          const record = hub.registry.prepareCreate({ deviceId: id(n) });
          hub.twins.mergeUnsaved(record, readServiceChange(device));
          created.push(record);
        }
        hub.registry.commit({ created });
      }
      console.log(`  ${DEVICES} devices stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      if (LAST !== undefined)
        return await lastOf(hub, LAST, async () => {
          await hub.stop();
          hub = await startHub({ ...options, queryIndex: INDEXED });
          return hub;
        });
      const small = await runJob(hub, 'twin-job-1000', "STARTSWITH(deviceId, 'scale-0000')", Math.min(1000, DEVICES));
      const whole = await runJob(hub, 'twin-job-all', "STARTSWITH(deviceId, 'scale-')", DEVICES);
      console.log(`  job over 1,000: ${small.seconds.toFixed(2)} s; over ${DEVICES}: ${whole.seconds.toFixed(2)} s`);
      const rows: BenchRow[] = [
        {
          metric: `twin-update job over ${DEVICES} devices, startTime → completed (in process)`,
          value: whole.seconds,
          unit: 's',
          target: DEVICES === 100_000 ? '≤ 5' : undefined,
          baseline: (small.seconds * DEVICES) / 1000,
          note: `baseline: the same job over 1,000 devices (${small.seconds.toFixed(2)} s) × N/1000; process CPU during the job ${whole.cpu.toFixed(2)} s`,
        },
      ];
      return rows;
    } finally {
      await hub.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

/** `scale`'s job over the last `last` devices, after a restart and the first query's index build. */
async function lastOf(hub: Hub, last: number, restart: () => Promise<Hub>): Promise<BenchRow[]> {
  hub = await restart();
  const b0 = performance.now();
  await runJob(hub, 'twin-job-build', `STARTSWITH(deviceId, '${id(DEVICES - 1)}')`, 1);
  console.log(`  restarted; the first job (order and ${INDEXED.length} indexes built): ${((performance.now() - b0) / 1000).toFixed(2)} s`);
  // The device store loads its registry order a chunk per event-loop turn after the start, and
  // the build held the loop: let it finish, as it has long before `scale` schedules its jobs.
  for (let i = 0; i < DEVICES / 10_000; i++) await new Promise((resolve) => setImmediate(resolve));
  const small = await runJob(hub, 'twin-job-1000', `STARTSWITH(deviceId, '${id(DEVICES - 1000).slice(0, 10)}')`, 1000);
  const whole = await runJob(hub, 'twin-job-last', `STARTSWITH(deviceId, '${id(DEVICES - last).slice(0, 8)}')`, last);
  console.log(`  job over the last 1,000: ${small.seconds.toFixed(2)} s; over the last ${last}: ${whole.seconds.toFixed(2)} s (CPU ${whole.cpu.toFixed(2)} s)`);
  return [
    {
      metric: `twin-update job over the last ${last} of ${DEVICES} devices (not cached), startTime → completed (in process)`,
      value: whole.seconds,
      unit: 's',
      target: last === 100_000 ? '≤ 5' : undefined,
      baseline: (small.seconds * last) / 1000,
      note: `baseline: the same job over the last 1,000 (${small.seconds.toFixed(2)} s) × N/1000; process CPU during the job ${whole.cpu.toFixed(2)} s`,
    },
  ];
}

async function runJob(hub: Hub, jobId: string, queryCondition: string, expected: number): Promise<{ seconds: number; cpu: number }> {
  const finished = new Promise<void>((resolve) => {
    const listener = (event: { jobId: string }): void => {
      if (event.jobId !== jobId) return;
      hub.events.off('jobFinished', listener);
      resolve();
    };
    hub.events.on('jobFinished', listener);
  });
  const cpu0 = process.cpuUsage();
  const from = performance.now();
  hub.scheduler.create(jobId, {
    jobId,
    type: 'scheduleUpdateTwin',
    queryCondition,
    updateTwin: { etag: '*', properties: { desired: { firmware: jobId } } },
    startTime: new Date().toISOString(),
    maxExecutionTimeInSeconds: 3600,
  });
  await finished;
  const used = process.cpuUsage(cpu0);
  // On a --cpu-prof profile's clock (µs since the process started, about): the job's window.
  if (process.env.BENCH_TWIN_JOB_WINDOWS) console.log(`  ${jobId}: ${(from / 1000).toFixed(2)}–${(performance.now() / 1000).toFixed(2)} s`);
  const job = hub.scheduler.get(jobId);
  if (job.deviceJobStatistics.succeededCount !== expected) throw new Error(`job ${jobId} ended ${job.status}: ${JSON.stringify(job.deviceJobStatistics)}`);
  return { seconds: (Date.parse(job.endTime!) - Date.parse(job.startTime)) / 1000, cpu: (used.user + used.system) / 1e6 };
}
