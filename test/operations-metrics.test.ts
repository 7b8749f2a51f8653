import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import iothub from 'azure-iothub';
import device from 'azure-iot-device';
import type { Hub } from '../emulator/hub.js';
import { classifyRestCall } from '../emulator/operations/rest-metrics.js';
import { iotHubMetrics, prometheusName } from '../emulator/operations/metrics.js';
import { startTestHub } from './support/hub-factory.js';
import { createDevice, openDevice, registryFor, rest, serviceClientFor } from './support/sdk.js';
import { waitUntil } from './support/wait.js';

let hub: Hub;
beforeAll(async () => {
  hub = await startTestHub({ maxActiveJobs: 1 });
});
afterAll(() => hub?.stop());

/** GET /metrics, as Prometheus scrapes it (no credentials), read into name{labels} → value. */
async function scrape(): Promise<Map<string, number>> {
  const response = await fetch(`https://${hub.hostName}:${hub.httpsPort}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const values = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match = /^([A-Za-z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) values.set(match[1], Number(match[2]));
  }
  return values;
}

async function moved(name: string, from: Map<string, number>): Promise<number> {
  return ((await scrape()).get(name) ?? 0) - (from.get(name) ?? 0);
}

describe('GET /metrics', () => {
  it('exposes every IoT Hub metric name with dots as underscores', async () => {
    const values = await scrape();
    for (const name of Object.keys(iotHubMetrics)) expect(values.has(prometheusName(name)), name).toBe(true);
    expect(prometheusName('d2c.telemetry.ingress.success')).toBe('d2c_telemetry_ingress_success');
  });

  it('moves with device traffic: connections, telemetry, twin reads and reported updates', async () => {
    const before = await scrape();
    const client = await openDevice(await createDevice(hub, 'met-door'));
    try {
      expect(await moved('connectedDeviceCount', before)).toBe(1);
      expect(await moved('totalDeviceCount', before)).toBe(1);
      for (let i = 0; i < 3; i++) await client.sendEvent(new device.Message(JSON.stringify({ i })));
      const twin = await client.getTwin();
      await new Promise<void>((resolve, reject) => twin.properties.reported.update({ locked: true }, (e?: Error) => (e ? reject(e) : resolve())));
      await waitUntil(async () => (await moved('d2c_telemetry_ingress_success', before)) === 3, 3000, 'three messages counted');
      expect(await moved('d2c_twin_read_success', before)).toBe(1);
      expect(await moved('d2c_twin_update_success', before)).toBe(1);
    } finally {
      await client.close();
    }
    await waitUntil(async () => (await moved('connectedDeviceCount', before)) === 0, 3000, 'the disconnection counted');
  });

  it('moves with back-end calls: twin reads and updates, queries, methods, each as success or failure', async () => {
    await createDevice(hub, 'met-svc');
    const before = await scrape();
    const registry = registryFor(hub);
    await registry.getTwin('met-svc');
    await expect(registry.getTwin('met-nobody')).rejects.toThrow();
    await registry.updateTwin('met-svc', { tags: { a: 1 }, properties: { desired: { b: 2 } } }, '*');
    await expect(registry.updateTwin('met-svc', { tags: { a: 2 } }, '"wrong-etag"')).rejects.toThrow();
    await registry.createQuery('SELECT * FROM devices', 10).nextAsTwin();
    const client = await openDevice(hub.deviceConnectionString('met-svc'));
    client.onDeviceMethod('lockDoor', (_request, response) => response.send(500, { jammed: true }));
    await waitUntil(() => hub.connections.isSubscribed('met-svc', 'methods'), 3000, 'methods subscription');
    try {
      // The device answering 500 is still a successful invocation: the hub delivered it and got an answer.
      await serviceClientFor(hub).invokeDeviceMethod('met-svc', { methodName: 'lockDoor', payload: null, responseTimeoutInSeconds: 5 } as never);
    } finally {
      await client.close();
    }
    await waitUntil(() => !hub.connections.isSubscribed('met-svc', 'methods'), 3000, 'the device gone');
    await expect(serviceClientFor(hub).invokeDeviceMethod('met-svc', { methodName: 'lockDoor', payload: null } as never)).rejects.toThrow();
    const after = await scrape();
    const delta = (name: string): number => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect({
      c2d_twin_read_success: delta('c2d_twin_read_success'),
      c2d_twin_read_failure: delta('c2d_twin_read_failure'),
      c2d_twin_update_success: delta('c2d_twin_update_success'),
      c2d_twin_update_failure: delta('c2d_twin_update_failure'),
      twinQueries_success: delta('twinQueries_success'),
      c2d_methods_success: delta('c2d_methods_success'),
      c2d_methods_failure: delta('c2d_methods_failure'),
    }).toEqual({
      c2d_twin_read_success: 1,
      c2d_twin_read_failure: 1,
      c2d_twin_update_success: 1,
      c2d_twin_update_failure: 1,
      twinQueries_success: 1,
      c2d_methods_success: 1,
      c2d_methods_failure: 1,
    });
  });

  it('counts job calls, throttled calls, and failed jobs as the scheduler reports them', async () => {
    const before = await scrape();
    const jobs = iothub.JobClient.fromConnectionString(hub.connectionString());
    const later = new Date(Date.now() + 3_600_000);
    await jobs.scheduleTwinUpdate('met-job-1', "deviceId = 'met-svc'", { etag: '*', properties: { desired: { c: 3 } } } as never, later, 60);
    // --max-active-jobs 1: a second job is throttled with 429.
    await expect(
      jobs.scheduleDeviceMethod('met-job-2', "deviceId = 'met-svc'", { methodName: 'lockDoor', payload: null, responseTimeoutInSeconds: 5 }, later, 60),
    ).rejects.toThrow();
    await jobs.cancelJob('met-job-1');
    // The scheduler's report of a failed job; a cancelled one (above) counts as neither outcome.
    hub.events.emit('jobFinished', { jobId: 'y', type: 'scheduleDeviceMethod', status: 'failed' });
    const after = await scrape();
    const delta = (name: string): number => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect(delta('jobs_createTwinUpdateJob_success')).toBe(1);
    expect(delta('jobs_createDirectMethodJob_failure')).toBe(1);
    expect(delta('iothub_emulator_throttled_requests{operation="jobs.createDirectMethodJob"}')).toBe(1);
    expect(delta('jobs_cancelJob_success')).toBe(1);
    expect(delta('jobs_completed')).toBe(0);
    expect(delta('jobs_failed')).toBe(1);
  });

  it('counts a job that runs: its outcome, its device operation, and the method call it made', async () => {
    await createDevice(hub, 'met-job-door');
    const client = await openDevice(hub.deviceConnectionString('met-job-door'));
    client.onDeviceMethod('lockDoor', (_request, response) => response.send(200, { locked: true }));
    await waitUntil(() => hub.connections.isSubscribed('met-job-door', 'methods'), 3000, 'methods subscription');
    const before = await scrape();
    try {
      const jobs = iothub.JobClient.fromConnectionString(hub.connectionString());
      await jobs.scheduleDeviceMethod(
        'met-job-run',
        "deviceId = 'met-job-door'",
        { methodName: 'lockDoor', payload: { by: 'job' }, responseTimeoutInSeconds: 5 },
        new Date(),
        60,
      );
      await waitUntil(async () => (await jobs.getJob('met-job-run')).jobStatus.status === 'completed', 10_000, 'the job to complete');
    } finally {
      await client.close();
    }
    expect(await moved('jobs_completed', before)).toBe(1);
    expect(await moved('iothub_emulator_job_device_operations{job_type="scheduleDeviceMethod",outcome="completed"}', before)).toBe(1);
    expect(await moved('c2d_methods_success', before)).toBe(1);
    expect(hub.recording.methodCalls({ deviceId: 'met-job-door' })).toMatchObject([{ methodName: 'lockDoor', payload: { by: 'job' }, status: 200 }]);
  });

  it('starts again from zero after a reset, like after a restart', async () => {
    expect((await scrape()).get('c2d_twin_read_success')).toBeGreaterThan(0);
    expect((await rest(hub, 'POST', '/$emulator/reset')).status).toBe(200);
    const values = await scrape();
    expect(values.get('c2d_twin_read_success')).toBe(0);
    expect(values.get('totalDeviceCount')).toBe(0);
  });
});

describe('which REST call counts as which IoT Hub operation', () => {
  it.each([
    ['GET', '/twins/door-1', undefined, 'c2d.twin.read'],
    ['PATCH', '/twins/door-1/', undefined, 'c2d.twin.update'],
    ['PUT', '/Twins/door-1', undefined, 'c2d.twin.update'],
    ['POST', '/twins/door-1/methods', undefined, 'c2d.methods'],
    ['POST', '/devices/query', undefined, 'twinQueries'],
    ['PUT', '/jobs/v2/j1', Buffer.from('{"type":"scheduleUpdateTwin"}'), 'jobs.createTwinUpdateJob'],
    ['PUT', '/jobs/v2/j1', Buffer.from('{"type":"scheduleDeviceMethod"}'), 'jobs.createDirectMethodJob'],
    ['POST', '/jobs/v2/j1/cancel', undefined, 'jobs.cancelJob'],
    ['GET', '/jobs/v2/query', undefined, 'jobs.queryJobs'],
    ['GET', '/devices/door-1', undefined, undefined],
    ['DELETE', '/twins/door-1', undefined, undefined],
  ])('%s %s', (method, path, body, operation) => {
    expect(classifyRestCall(method, path, body)).toBe(operation);
  });
});
