import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHub } from '../cli/start-hub.js';
import type { Bench, BenchRow } from './support/harness.js';

// Issue 15's twin-update job figure alone, in process (docs/scaling.md §5): the hub with its
// scheduler on an on-disk data directory, DEVICES twins registered through RegistryService's own
// record builders (no HTTPS: registration is measured in `scale`), then one scheduleUpdateTwin job
// over 1,000 of them and one over all, timed from the job's startTime to its endTime as GET
// /jobs/v2/{id} reports them. The 1,000-device job scaled to N is the baseline.
const DEVICES = Number(process.env.BENCH_TWIN_JOB_DEVICES ?? 100_000);
const id = (n: number): string => `scale-${String(n).padStart(7, '0')}`;

export const bench: Bench = {
  name: 'twin-job',
  description: `a twin-update job over ${DEVICES.toLocaleString('en')} devices (in process, on disk), load average ${os.loadavg()[0]!.toFixed(1)} at start`,
  async run() {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-bench-twin-job-'));
    const hub = await startHub({ dataDir, inMemory: false, host: '127.0.0.216', httpsPort: 0, mqttPort: 0, amqpPort: 0, logLevel: 'warn' });
    try {
      const t0 = performance.now();
      for (let start = 0; start < DEVICES; start += 1000) {
        const created = [];
        for (let n = start; n < Math.min(start + 1000, DEVICES); n++) created.push(hub.registry.prepareCreate({ deviceId: id(n) }));
        hub.registry.commit({ created });
      }
      console.log(`  ${DEVICES} devices stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const small = await runJob(hub, 'twin-job-1000', "STARTSWITH(deviceId, 'scale-0000')", Math.min(1000, DEVICES));
      const whole = await runJob(hub, 'twin-job-all', "STARTSWITH(deviceId, 'scale-')", DEVICES);
      console.log(`  job over 1,000: ${small.toFixed(2)} s; over ${DEVICES}: ${whole.toFixed(2)} s`);
      const rows: BenchRow[] = [
        {
          metric: `twin-update job over ${DEVICES} devices, startTime → completed (in process)`,
          value: whole,
          unit: 's',
          target: DEVICES === 100_000 ? '≤ 5' : undefined,
          baseline: (small * DEVICES) / 1000,
          note: `baseline: the same job over 1,000 devices (${small.toFixed(2)} s) × N/1000`,
        },
      ];
      return rows;
    } finally {
      await hub.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

async function runJob(hub: Awaited<ReturnType<typeof startHub>>, jobId: string, queryCondition: string, expected: number): Promise<number> {
  const finished = new Promise<void>((resolve) => {
    const listener = (event: { jobId: string }): void => {
      if (event.jobId !== jobId) return;
      hub.events.off('jobFinished', listener);
      resolve();
    };
    hub.events.on('jobFinished', listener);
  });
  hub.scheduler.create(jobId, {
    jobId,
    type: 'scheduleUpdateTwin',
    queryCondition,
    updateTwin: { etag: '*', properties: { desired: { firmware: jobId } } },
    startTime: new Date().toISOString(),
    maxExecutionTimeInSeconds: 3600,
  });
  await finished;
  const job = hub.scheduler.get(jobId);
  if (job.deviceJobStatistics.succeededCount !== expected) throw new Error(`job ${jobId} ended ${job.status}: ${JSON.stringify(job.deviceJobStatistics)}`);
  return (Date.parse(job.endTime!) - Date.parse(job.startTime)) / 1000;
}
