import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { registryFor, rest } from './support/sdk.js';

let hub: Hub;
let registry: ReturnType<typeof registryFor>;

beforeAll(async () => {
  hub = await startTestHub();
  registry = registryFor(hub);
});
afterAll(() => hub?.stop());

describe('registry through azure-iothub Registry', () => {
  it('creates a device with generated keys, gets and lists it', async () => {
    const created = await registry.create({ deviceId: 'reg-1' });
    const device = created.responseBody;
    expect(device.deviceId).toBe('reg-1');
    expect(device.status).toBe('enabled');
    expect(device.connectionState).toBe('Disconnected');
    expect(device.etag).toBe('MQ==');
    expect(Buffer.from(device.authentication!.symmetricKey!.primaryKey!, 'base64')).toHaveLength(32);
    expect(device.authentication!.symmetricKey!.secondaryKey).not.toBe(device.authentication!.symmetricKey!.primaryKey);

    const got = await registry.get('reg-1');
    expect(got.responseBody.authentication).toEqual(device.authentication);
    expect(got.httpResponse.headers['content-type']).toBe('application/json; charset=utf-8');

    // Paths are case-insensitive and may end in a slash, as on the real hub.
    expect((await rest(hub, 'GET', '/DEVICES/reg-1/?api-version=2021-04-12')).json.deviceId).toBe('reg-1');

    const list = await registry.list();
    expect(list.responseBody.map((d) => d.deviceId)).toContain('reg-1');
  });

  it('answers 409 DeviceAlreadyExists for a second create', async () => {
    await registry.create({ deviceId: 'reg-dup' });
    const error = await registry.create({ deviceId: 'reg-dup' }).catch((e) => e);
    expect(error.constructor.name).toBe('DeviceAlreadyExistsError');
    expect(error.response.statusCode).toBe(409);
    expect(error.response.headers['iothub-errorcode']).toBe('DeviceAlreadyExists');
    expect(JSON.parse(error.responseBody).Message).toBe("ErrorCode:DeviceAlreadyExists;A device with ID 'reg-dup' is already registered.");
  });

  it('updates status and keys, moving the etag; a stale etag gets 412', async () => {
    const created = (await registry.create({ deviceId: 'reg-upd' })).responseBody;
    const updated = (await registry.update({ deviceId: 'reg-upd', status: 'disabled' })).responseBody;
    expect(updated.status).toBe('disabled');
    expect(updated.etag).toBe('Mg==');
    expect(updated.authentication!.symmetricKey!.primaryKey).toBe(created.authentication!.symmetricKey!.primaryKey);

    const stale = await rest(
      hub,
      'PUT',
      '/devices/reg-upd?api-version=2021-04-12',
      { deviceId: 'reg-upd', status: 'enabled' },
      { 'if-match': `"${created.etag}"` },
    );
    expect(stale.status).toBe(412);
    expect(stale.headers.get('iothub-errorcode')).toBe('PreconditionFailed');
    expect((await registry.get('reg-upd')).responseBody.status).toBe('disabled');
  });

  it('rejects a key that is not base64 of 16–64 bytes with 400 and changes nothing', async () => {
    await registry.create({ deviceId: 'reg-key' });
    const error = await registry
      .update({ deviceId: 'reg-key', authentication: { symmetricKey: { primaryKey: 'c2hvcnQ=', secondaryKey: '' } } } as never)
      .catch((e) => e);
    expect(error.response.statusCode).toBe(400);
    expect(error.response.headers['iothub-errorcode']).toBe('ArgumentInvalid');
    expect((await registry.get('reg-key')).responseBody.etag).toBe('MQ==');
  });

  it('deletes a device and answers 404 DeviceNotFound afterwards', async () => {
    await registry.create({ deviceId: 'reg-del' });
    await registry.delete('reg-del');
    const error = await registry.get('reg-del').catch((e) => e);
    expect(error.constructor.name).toBe('DeviceNotFoundError');
    expect(error.response.statusCode).toBe(404);
    const again = await registry.delete('reg-del').catch((e) => e);
    expect(again.response.statusCode).toBe(404);
  });

  it('percent-decodes ids and validates them', async () => {
    const id = "we!rd-(id)_$@=,';:*";
    await registry.create({ deviceId: id });
    expect((await registry.get(id)).responseBody.deviceId).toBe(id);
    const bad = await registry.create({ deviceId: 'has space' }).catch((e) => e);
    expect(bad.response.statusCode).toBe(400);
    expect(bad.response.headers['iothub-errorcode']).toBe('ArgumentInvalid');
  });

  it('runs bulk create, update and delete with per-device errors', async () => {
    const added = await registry.addDevices([{ deviceId: 'bulk-1' }, { deviceId: 'bulk-2' }]);
    expect(added.responseBody).toEqual({ isSuccessful: true, errors: [], warnings: [] });
    expect((await registry.get('bulk-2')).responseBody.authentication!.symmetricKey!.primaryKey).toBeTruthy();

    const failed = await registry.addDevices([{ deviceId: 'bulk-1' }, { deviceId: 'bulk-3' }]).catch((e) => e);
    expect(failed.response.statusCode).toBe(400);
    const body = JSON.parse(failed.responseBody);
    expect(body.isSuccessful).toBe(false);
    expect(body.errors).toEqual([expect.objectContaining({ deviceId: 'bulk-1', errorCode: 'DeviceAlreadyExists' })]);
    expect((await registry.get('bulk-3')).responseBody.deviceId).toBe('bulk-3');

    await registry.updateDevices([{ deviceId: 'bulk-1', status: 'disabled' }], true);
    expect((await registry.get('bulk-1')).responseBody.status).toBe('disabled');

    await registry.removeDevices([{ deviceId: 'bulk-1' }, { deviceId: 'bulk-2' }], true);
    expect((await registry.get('bulk-1').catch((e) => e)).response.statusCode).toBe(404);
  });

  it('bulk import with tags and createOrUpdate is idempotent', async () => {
    const items = [{ id: 'bulk-tag', importMode: 'createOrUpdate', tags: { building: '43' } }];
    expect((await rest(hub, 'POST', '/devices?api-version=2021-04-12', items)).status).toBe(200);
    expect((await rest(hub, 'POST', '/devices?api-version=2021-04-12', items)).status).toBe(200);
    expect((await registry.getTwin('bulk-tag')).responseBody.tags).toEqual({ building: '43' });
    const tooMany = await rest(
      hub,
      'POST',
      '/devices',
      Array.from({ length: 101 }, (_, i) => ({ id: `x${i}`, importMode: 'create' })),
    );
    expect(tooMany.status).toBe(400);
  });

  it('reports registry statistics', async () => {
    const stats = (await registry.getRegistryStatistics()).responseBody;
    const devices = (await registry.list()).responseBody;
    expect(stats.totalDeviceCount).toBe(devices.length);
    expect(stats.enabledDeviceCount + stats.disabledDeviceCount).toBe(devices.length);
    expect(stats.disabledDeviceCount).toBe(devices.filter((d) => d.status === 'disabled').length);
  });

  it('refuses a wrong service key with 401', async () => {
    const { Registry } = await import('azure-iothub');
    const wrong = Registry.fromConnectionString(
      `HostName=${hub.hostName};SharedAccessKeyName=iothubowner;SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`,
    );
    const error = await wrong.list().catch((e) => e);
    expect(error.constructor.name).toBe('UnauthorizedError');
    expect(error.response.statusCode).toBe(401);
    const readOnly = Registry.fromConnectionString(hub.connectionString('registryRead'));
    expect((await readOnly.create({ deviceId: 'ro' }).catch((e) => e)).response.statusCode).toBe(401);
    expect((await readOnly.list()).responseBody.length).toBeGreaterThan(0);
  });
});

// README's Fidelity table says what the emulator does with modules today; this holds it to that.
