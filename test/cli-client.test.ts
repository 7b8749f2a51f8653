import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { CLIENT_ENV, clientCommand, exited, runBuiltCli } from './support/cli-process.js';
import { startTestHub } from './support/hub-factory.js';
import { JobClient } from './support/job-helpers.js';
import { openDevice, registryFor } from './support/sdk.js';

/**
 * The CLI's client commands (device, twin, method, query, job), run as a user runs them against a
 * real emulator: a separate process (the built one, as installed), from another folder, finding the
 * hub by --host and trusting the CA from its CA directory.
 */
describe('iothub-emulator device / twin / method / query / job', () => {
  let hub: Hub;
  const folder = mkdtempSync(path.join(os.tmpdir(), 'cli-client-'));
  const cli = clientCommand(folder, () => hub.options.host);

  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(async () => {
    await hub?.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  it('creates a device (JSON when piped), prints its connection string from any folder, and the device connects with it', async () => {
    const created = await cli('device', 'create', 'myDeviceId');
    expect(created.code).toBe(0);
    const device = JSON.parse(created.stdout);
    expect(device).toMatchObject({ deviceId: 'myDeviceId', status: 'enabled', authentication: { type: 'sas' } });
    expect(device.authentication.symmetricKey.primaryKey).toBe(hub.registry.get('myDeviceId').authentication.symmetricKey.primaryKey);

    const [printed, legacy] = await Promise.all([cli('device', 'connection-string', 'myDeviceId'), cli('connection-string', '--device', 'myDeviceId')]);
    expect(printed.code).toBe(0);
    expect(printed.stdout.trim()).toBe(hub.deviceConnectionString('myDeviceId'));
    expect(legacy.stdout.trim()).toBe(hub.deviceConnectionString('myDeviceId'));

    const client = await openDevice(printed.stdout.trim());
    try {
      client.onDeviceMethod('lockDoor', (request, response) => void response.send(200, { locked: true, by: request.payload }));
      await hub.connections.whenSubscribed('myDeviceId', 'methods', 10_000);
      const invoked = await cli('method', 'invoke', 'myDeviceId', 'lockDoor', '--payload', '{"who":"cli"}', '--timeout', '5');
      expect(invoked.code).toBe(0);
      expect(JSON.parse(invoked.stdout)).toEqual({ status: 200, payload: { locked: true, by: { who: 'cli' } } });
    } finally {
      await client.close();
    }
  });

  it('creates with --edge, --status and keys; refuses a duplicate in the hub words with exit 1', async () => {
    const primary = Buffer.alloc(32, 1).toString('base64');
    const secondary = Buffer.alloc(32, 2).toString('base64');
    const created = await cli('device', 'create', 'edge-1', '--edge', '--status', 'disabled', '--primary-key', primary, '--secondary-key', secondary, '--json');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      deviceId: 'edge-1',
      status: 'disabled',
      capabilities: { iotEdge: true },
      authentication: { symmetricKey: { primaryKey: primary, secondaryKey: secondary } },
    });
    const secondaryString = await cli('device', 'connection-string', 'edge-1', '--key', 'secondary', '--json');
    expect(JSON.parse(secondaryString.stdout)).toEqual({ connectionString: `HostName=${hub.hostName};DeviceId=edge-1;SharedAccessKey=${secondary}` });

    const again = await cli('device', 'create', 'edge-1');
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/iothub-emulator: DeviceAlreadyExists: .*edge-1.* \(HTTP 409\)/);
    expect(again.stdout).toBe('');
  });

  it('lists, shows and deletes; a missing device is DeviceNotFound with exit 1', async () => {
    await registryFor(hub).create({ deviceId: 'listed-1' });
    const [list, table, show] = await Promise.all([
      cli('device', 'list'),
      cli('device', 'list', '--output', 'table'),
      cli('device', 'show', 'listed-1', '--json'),
    ]);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { deviceId: string }[]).map((d) => d.deviceId)).toContain('listed-1');
    expect(table.stdout.split('\n')[0]).toMatch(/^DeviceId\s+Status\s+ConnectionState\s+Edge\s+Auth\s+LastActivityTime$/);
    expect(table.stdout).toMatch(/^listed-1\s+enabled\s+Disconnected\s+no\s+sas/m);
    expect(JSON.parse(show.stdout)).toMatchObject({ deviceId: 'listed-1', connectionState: 'Disconnected' });

    const deleted = await cli('device', 'delete', 'listed-1', '--output', 'table');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain('Deleted device listed-1.');
    expect(hub.registry.find('listed-1')).toBeUndefined();
    const missing = await cli('device', 'show', 'listed-1');
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/DeviceNotFound: .*listed-1.* \(HTTP 404\)/);
  });

  it('updates a twin from an argument, --desired/--tags and a file, and shows it; bad JSON is exit 2', async () => {
    await registryFor(hub).create({ deviceId: 'twin-1' });
    const patchFile = path.join(folder, 'patch.json');
    writeFileSync(patchFile, JSON.stringify({ properties: { desired: { fromFile: true } } }));
    const [bad, reported] = await Promise.all([
      cli('twin', 'update', 'twin-1', '{not json'),
      cli('twin', 'update', 'twin-1', '{"properties":{"reported":{"x":1}}}'),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/the patch is not valid JSON/);
    expect(reported.code).toBe(1);
    expect(reported.out).toMatch(/\(HTTP 400\)/);

    expect((await cli('twin', 'update', 'twin-1', '{"tags":{"floor":3}}')).code).toBe(0);
    expect((await cli('twin', 'update', 'twin-1', '--desired', '{"interval":5}', '--tags', '{"room":"a"}')).code).toBe(0);
    const fromFile = await cli('twin', 'update', 'twin-1', '--file', patchFile);
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ tags: { floor: 3, room: 'a' }, properties: { desired: { interval: 5, fromFile: true } } });
    const [shown, table] = await Promise.all([cli('twin', 'show', 'twin-1'), cli('twin', 'show', 'twin-1', '--output', 'table')]);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      deviceId: 'twin-1',
      tags: { floor: 3, room: 'a' },
      properties: { desired: { interval: 5, fromFile: true, $version: 3 } },
    });
    expect(table.stdout).toMatch(/^properties\.desired\.interval\s+5$/m);
    expect(table.stdout).not.toContain('$metadata');
  });

  it('runs a query through every page, as JSON or a table; a bad query is the hub ArgumentInvalid', async () => {
    const registry = registryFor(hub);
    await registry.addDevices(Array.from({ length: 7 }, (_, i) => ({ deviceId: `q-${i}` })));
    await Promise.all(Array.from({ length: 7 }, (_, i) => registry.updateTwin(`q-${i}`, { tags: { kind: i % 2 ? 'odd' : 'even' } }, '*')));
    const [all, top, table, bad] = await Promise.all([
      cli('query', "SELECT deviceId, tags.kind FROM devices WHERE STARTSWITH(deviceId, 'q-')", '--page-size', '2'),
      cli('query', "SELECT * FROM devices WHERE STARTSWITH(deviceId, 'q-')", '--top', '3', '--page-size', '2'),
      cli('query', "SELECT tags.kind AS g, COUNT() AS n FROM devices WHERE STARTSWITH(deviceId, 'q-') GROUP BY tags.kind", '--output', 'table'),
      cli('query', 'SELECT * FROM'),
    ]);
    expect(all.out).toBe(all.stdout);
    expect(all.code).toBe(0);
    expect((JSON.parse(all.stdout) as { deviceId: string }[]).map((r) => r.deviceId).sort()).toEqual(['q-0', 'q-1', 'q-2', 'q-3', 'q-4', 'q-5', 'q-6']);
    expect(JSON.parse(top.stdout)).toHaveLength(3);
    expect(JSON.parse(top.stdout)[0].properties.desired.$metadata).toBeDefined();
    expect(table.stdout).toMatch(/^g\s+n$/m);
    expect(table.stdout).toMatch(/^even\s+4$/m);
    expect(table.stdout).toMatch(/^odd\s+3$/m);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/ArgumentInvalid: .*\(HTTP 400\)/);
  });

  it('lists, shows and cancels jobs', async () => {
    const jobs = JobClient.fromConnectionString(hub.connectionString());
    const later = new Date(Date.now() + 3600_000);
    await jobs.scheduleTwinUpdate('cli-job-1', "deviceId = 'q-0'", { etag: '*', tags: { touched: true } }, later, 60);
    const [list, table, shown, missing] = await Promise.all([
      cli('job', 'list', '--json'),
      cli('job', 'list', '--output', 'table', '--type', 'scheduleUpdateTwin'),
      cli('job', 'show', 'cli-job-1'),
      cli('job', 'show', 'no-such-job'),
    ]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ jobId: 'cli-job-1', type: 'scheduleUpdateTwin', status: 'scheduled' })]),
    );
    expect(table.stdout).toMatch(/^cli-job-1\s+scheduleUpdateTwin\s+scheduled/m);
    expect(JSON.parse(shown.stdout)).toMatchObject({ jobId: 'cli-job-1', queryCondition: "deviceId = 'q-0'" });
    const cancelled = await cli('job', 'cancel', 'cli-job-1');
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ jobId: 'cli-job-1', status: 'cancelled' });
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/JobNotFound: .*\(HTTP 404\)/);
  });

  it('takes any hub by --connection-string, and says the hub refused a policy without the right', async () => {
    const readOnly = hub.connectionString('registryRead');
    const [listed, refused] = await Promise.all([
      cli('device', 'list', '--connection-string', readOnly),
      cli('device', 'create', 'nope-1', '--connection-string', readOnly),
    ]);
    expect(listed.code).toBe(0);
    expect(Array.isArray(JSON.parse(listed.stdout))).toBe(true);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/\(HTTP 401\)/);
    expect(hub.registry.find('nope-1')).toBeUndefined();
  });

  it('exits 3 when no emulator listens there, and when this process does not trust its certificate', async () => {
    const nowhere = runBuiltCli(['device', 'list', '--host', '127.1.2.3'], CLIENT_ENV, folder);
    const untrusted = cli('device', 'list', '--ca-dir', path.join(folder, 'no-ca-here'));
    expect(await exited(nowhere)).toBe(3);
    expect(nowhere.output()).toMatch(/Cannot reach the hub at 127\.1\.2\.3:443 \(ECONNREFUSED\): is the emulator running/);

    const { code, out } = await untrusted;
    expect(code).toBe(3);
    expect(out).toMatch(
      /(unable to verify the first certificate|self-signed certificate in certificate chain): this process does not trust the certificate of/,
    );
    expect(out).toMatch(/The emulator's CA was not found: pass the --ca-dir/);
  });
});
