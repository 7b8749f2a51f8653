import iothub from 'azure-iothub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { DEFAULT_TOKEN_TTL_SECONDS, type EngineName } from '../fleet/config.js';
import { WHOLE } from '../fleet/device-range.js';
import { startFleet, type RunningFleet } from '../fleet/fleet.js';
import { defaultScenario } from '../fleet/scenario/scenario.js';
import { startTestHub } from './support/hub-factory.js';
import { waitUntil } from './support/wait.js';

const { JobClient } = iothub;

interface JobResult {
  status: string;
  deviceJobStatistics?: { deviceCount: number; succeededCount: number; failedCount: number };
}

describe.each(['light', 'sdk'] as EngineName[])('a lockDoor job over a %s fleet', (engine) => {
  let hub: Hub;
  let fleet: RunningFleet;
  const prefix = `job-${engine}-`;

  beforeAll(async () => {
    hub = await startTestHub();
    fleet = await startFleet({
      connectionString: hub.connectionString(),
      engine,
      devices: 5,
      prefix,
      shard: WHOLE,
      workers: 0,
      tokenTtlSeconds: DEFAULT_TOKEN_TTL_SECONDS,
      durationMs: 0,
      scenario: { ...defaultScenario, methods: { ...defaultScenario.methods, latency: { kind: 'uniform', min: 5, max: 40 } } },
    });
    await fleet.ramped;
  });
  afterAll(async () => {
    await fleet?.stop();
    await hub?.stop();
  });

  it('completes with every device succeeded', async () => {
    const jobs = JobClient.fromConnectionString(hub.connectionString());
    const jobId = `lock-all-${engine}-${Date.now()}`;
    await jobs.scheduleDeviceMethod(
      jobId,
      `STARTSWITH(deviceId, '${prefix}')`,
      { methodName: 'lockDoor', payload: { by: 'job' }, responseTimeoutInSeconds: 10 },
      new Date(),
      60,
    );
    const job = await waitUntil(
      async () => {
        const current = (await jobs.getJob(jobId)).jobStatus as unknown as JobResult;
        return ['completed', 'failed', 'cancelled'].includes(current.status) && current;
      },
      20_000,
      `job ${jobId} to end`,
    );
    expect(job.status).toBe('completed');
    expect(job.deviceJobStatistics).toMatchObject({ deviceCount: 5, succeededCount: 5, failedCount: 0 });
    expect(fleet.stats().counters).toMatchObject({ methodCalls: 5, methodResponses: 5 });
  });
});
