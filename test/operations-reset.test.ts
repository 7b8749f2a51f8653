import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import iothub from 'azure-iothub';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { exited, runCli, startArgs, startEmulatorCli, waitForHealth } from './support/cli-process.js';
import { createDevice, openDevice, Registry, rest } from './support/sdk.js';

const certDir = (): string => process.env.IOTHUB_EMULATOR_TEST_CERT_DIR!;
const OWNER = 'SharedAccessKeyName=iothubowner;SharedAccessKey=rRLBpgnCo0Oa8ww60kU1nM5HT4L3rAVjRIb3RRiooFk=';

describe('reset of an in-process hub', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub?.stop());

  it('drops connections and clears devices, sessions, jobs, the recording and metrics; the hub keeps serving', async () => {
    const client = await openDevice(await createDevice(hub, 'reset-door'));
    await createDevice(hub, 'reset-other');
    const jobs = iothub.JobClient.fromConnectionString(hub.connectionString());
    await jobs.scheduleTwinUpdate(
      'reset-job',
      "deviceId = 'reset-other'",
      { etag: '*', properties: { desired: { a: 1 } } } as never,
      new Date(Date.now() + 3_600_000),
      60,
    );

    const response = await rest(hub, 'POST', '/$emulator/reset');
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ devicesRemoved: 2 });
    expect(hub.registry.count()).toBe(0);
    expect(hub.connections.count).toBe(0);
    expect(hub.recording.entries()).toEqual([]);
    await expect(jobs.getJob('reset-job')).rejects.toThrow();
    await client.close();

    // Same ids again: nothing of the old devices comes back (keys, twins, MQTT sessions).
    await createDevice(hub, 'reset-door');
    expect(hub.registry.get('reset-door').twin.version).toBe(1);
    const again = await openDevice(hub.deviceConnectionString('reset-door'));
    await again.close();
  });

  it('needs RegistryWrite: a service-only SAS is refused', async () => {
    const refused = await rest(hub, 'POST', '/$emulator/reset', undefined, { authorization: hub.serviceToken('service') });
    expect(refused.status).toBe(401);
    expect(refused.json.Message).toContain('RegistryWrite');
  });
});

describe('iothub-emulator start --seed, then iothub-emulator reset', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-reset-'));
  const seedFile = path.join(dataDir, 'seed.yaml');
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('seeds at start, reset keeps only the seed, and a restart on the same data applies the seed without changing anything', async () => {
    writeFileSync(
      seedFile,
      [
        'devices:',
        '  - deviceId: seeded-door',
        '    tags: { building: "43" }',
        '    desired: { lockTimeoutSeconds: 30 }',
        '    reported: { firmware: 1.2.0 }',
        '',
      ].join('\n'),
    );
    const args = (h: string): string[] => [...startArgs(h, dataDir, { logLevel: 'info' }), '--seed', seedFile, '--log-format', 'json'];
    const first = await startEmulatorCli(args);
    const host = first.host;
    const start = async (): Promise<ReturnType<typeof runCli>> => (await startEmulatorCli(args, { host })).child;
    const registry = Registry.fromConnectionString(`HostName=${host};${OWNER}`);

    let emulator = first.child;
    try {
      await waitForHealth(host);
      expect(emulator.output()).toMatch(/"created":1,"updated":0,"unchanged":0,"msg":"seed applied"/);
      const seeded = (await registry.getTwin('seeded-door')).responseBody;
      expect(seeded.tags).toEqual({ building: '43' });
      expect(seeded.properties.reported.firmware).toBe('1.2.0');
      await registry.create({ deviceId: 'temporary' });
      await registry.updateTwin('seeded-door', { properties: { desired: { lockTimeoutSeconds: 5 } } }, '*');

      const reset = runCli(['reset', '--host', host, '--cert-dir', certDir()]);
      expect(await exited(reset)).toBe(0);
      expect(reset.output()).toContain('Reset: 2 devices removed.');
      await expect(registry.get('temporary')).rejects.toThrow();
      expect((await registry.getTwin('seeded-door')).responseBody.properties.desired.lockTimeoutSeconds).toBe(30);
    } finally {
      emulator.kill('SIGTERM');
    }
    expect(await exited(emulator)).toBe(0);

    const etag = await (async () => {
      emulator = await start();
      try {
        await waitForHealth(host);
        expect(emulator.output()).toMatch(/"created":0,"updated":0,"unchanged":1,"msg":"seed applied"/);
        return (await registry.getTwin('seeded-door')).responseBody.etag;
      } finally {
        emulator.kill('SIGTERM');
      }
    })();
    expect(await exited(emulator)).toBe(0);
    expect(etag).toBeTruthy();
  });

  it('refuses to start on a broken seed file, naming it', async () => {
    const broken = path.join(dataDir, 'broken.yaml');
    writeFileSync(broken, 'devices:\n  - deviceId: x\n    desried: {}\n');
    const emulator = runCli(['start', '--host', '127.0.0.1', '--https-port', '1', '--data-dir', dataDir, '--seed', broken]);
    expect(await exited(emulator)).toBe(1);
    expect(emulator.output()).toContain("broken.yaml: devices[0]: unknown field 'desried'");
  });

  it('reports a reset that cannot reach the emulator', async () => {
    const reset = runCli(['reset', '--host', '127.0.0.1', '--https-port', '9', '--cert-dir', certDir()]);
    expect(await exited(reset)).toBe(1);
    expect(reset.output()).toContain('Cannot reach the emulator at https://127.0.0.1:9');
  });
});
