import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { registryFor, rest, type TwinJson } from './support/sdk.js';

let hub: Hub;
let registry: ReturnType<typeof registryFor>;

beforeAll(async () => {
  hub = await startTestHub();
  registry = registryFor(hub);
});
afterAll(() => hub?.stop());

type Json = Record<string, any>;
const failure = async (promise: Promise<unknown>): Promise<Json> => {
  try {
    await promise;
  } catch (error) {
    return error as Json;
  }
  throw new Error('expected the call to fail');
};

describe('module identities through the service SDK', () => {
  it('adds a module with generated keys, reads it back and lists it on its device', async () => {
    await registry.create({ deviceId: 'mod-crud' });
    const added = (await registry.addModule({ deviceId: 'mod-crud', moduleId: 'sensor', managedBy: 'me' } as never)).responseBody as Json;
    expect(added).toMatchObject({ deviceId: 'mod-crud', moduleId: 'sensor', managedBy: 'me', etag: 'MQ==', connectionState: 'Disconnected' });
    expect(added.authentication.type).toBe('sas');
    expect(Buffer.from(added.authentication.symmetricKey.primaryKey, 'base64')).toHaveLength(32);
    expect(added.authentication.symmetricKey.secondaryKey).not.toBe(added.authentication.symmetricKey.primaryKey);
    const read = (await registry.getModule('mod-crud', 'sensor')).responseBody as Json;
    expect(read).toEqual(added);
    await registry.addModule({ deviceId: 'mod-crud', moduleId: 'second' } as never);
    const list = (await registry.getModulesOnDevice('mod-crud')).responseBody as Json[];
    expect(list.map((m) => m.moduleId)).toEqual(['sensor', 'second']);
  });

  it('updates a module with its etag (412 on a stale one) and keeps given keys', async () => {
    await registry.create({ deviceId: 'mod-upd' });
    const added = (await registry.addModule({ deviceId: 'mod-upd', moduleId: 'm' } as never)).responseBody as Json;
    const key = Buffer.alloc(32, 7).toString('base64');
    const updated = (
      await registry.updateModule({
        ...added,
        managedBy: 'ops',
        authentication: { type: 'sas', symmetricKey: { primaryKey: key, secondaryKey: key } },
      } as never)
    ).responseBody as Json;
    expect(updated).toMatchObject({ managedBy: 'ops', etag: 'Mg==' });
    expect(updated.authentication.symmetricKey.primaryKey).toBe(key);
    const stale = await failure(registry.updateModule({ ...added, managedBy: 'x' } as never));
    expect(stale.constructor.name).toBe('InvalidEtagError');
    expect(stale.response.statusCode).toBe(412);
    // forceUpdate sends If-Match: *
    await registry.updateModule({ ...added, managedBy: 'forced' } as never, true);
    expect(((await registry.getModule('mod-upd', 'm')).responseBody as Json).managedBy).toBe('forced');
  });

  it('answers the hub errors: duplicate 409301, unknown module 404010, unknown device 404001, bad id 400', async () => {
    await registry.create({ deviceId: 'mod-err' });
    await registry.addModule({ deviceId: 'mod-err', moduleId: 'dup' } as never);
    const dup = await rest(hub, 'PUT', '/devices/mod-err/modules/dup?api-version=2021-04-12', { moduleId: 'dup', deviceId: 'mod-err' });
    expect(dup.status).toBe(409);
    expect(dup.headers.get('iothub-errorcode')).toBe('ModuleAlreadyExistsOnDevice');
    const missing = await failure(registry.getModule('mod-err', 'nope'));
    expect(missing.response.statusCode).toBe(404);
    expect(missing.response.headers['iothub-errorcode']).toBe('ModuleNotFound');
    const noDevice = await rest(hub, 'GET', '/devices/no-such-device/modules/x?api-version=2021-04-12');
    expect(noDevice.status).toBe(404);
    expect(noDevice.headers.get('iothub-errorcode')).toBe('DeviceNotFound');
    const badId = await rest(hub, 'PUT', `/devices/mod-err/modules/${encodeURIComponent('bad id')}?api-version=2021-04-12`, {});
    expect(badId.status).toBe(400);
    expect(badId.headers.get('iothub-errorcode')).toBe('ArgumentInvalid');
    const reserved = await rest(hub, 'PUT', `/devices/mod-err/modules/${encodeURIComponent('$mine')}?api-version=2021-04-12`, {});
    expect(reserved.status).toBe(400);
    const mismatch = await rest(hub, 'PUT', '/devices/mod-err/modules/a?api-version=2021-04-12', { moduleId: 'b' });
    expect(mismatch.status).toBe(400);
  });

  it('refuses a 51st module on one device with 413 TooManyModulesOnDevice', async () => {
    await registry.create({ deviceId: 'mod-many' });
    for (let i = 0; i < 50; i++) await rest(hub, 'PUT', `/devices/mod-many/modules/m${i}?api-version=2021-04-12`, {});
    const over = await rest(hub, 'PUT', '/devices/mod-many/modules/m50?api-version=2021-04-12', {});
    expect(over.status).toBe(413);
    expect(over.headers.get('iothub-errorcode')).toBe('TooManyModulesOnDevice');
  });

  it('removes a module (etag-checked) and deleting a device removes its modules; statistics count devices only', async () => {
    const before = ((await registry.getRegistryStatistics()).responseBody as Json).totalDeviceCount;
    await registry.create({ deviceId: 'mod-del' });
    const a = (await registry.addModule({ deviceId: 'mod-del', moduleId: 'a' } as never)).responseBody as Json;
    await registry.addModule({ deviceId: 'mod-del', moduleId: 'b' } as never);
    expect(((await registry.getRegistryStatistics()).responseBody as Json).totalDeviceCount).toBe(before + 1);
    const stale = await rest(hub, 'DELETE', '/devices/mod-del/modules/a?api-version=2021-04-12', undefined, { 'if-match': '"bm9wZQ=="' });
    expect(stale.status).toBe(412);
    // (the SDK's promise form of removeModule(module) never passes a callback; the id form works)
    await registry.removeModule('mod-del', a.moduleId);
    expect((await failure(registry.getModule('mod-del', 'a'))).response.statusCode).toBe(404);
    await registry.delete('mod-del');
    await registry.create({ deviceId: 'mod-del' });
    expect((await registry.getModulesOnDevice('mod-del')).responseBody).toEqual([]);
    expect((await failure(registry.getModuleTwin('mod-del', 'b'))).response.statusCode).toBe(404);
  });

  it('gives an IoT Edge device its $edgeAgent and $edgeHub modules, which cannot be removed', async () => {
    await registry.create({ deviceId: 'edge-1', capabilities: { iotEdge: true } } as never);
    const list = (await registry.getModulesOnDevice('edge-1')).responseBody as Json[];
    expect(list.map((m) => m.moduleId)).toEqual(['$edgeAgent', '$edgeHub']);
    const twin = (await registry.getModuleTwin('edge-1', '$edgeAgent')).responseBody as TwinJson;
    expect(twin).toMatchObject({ deviceId: 'edge-1', moduleId: '$edgeAgent' });
    const del = await rest(hub, 'DELETE', `/devices/edge-1/modules/${encodeURIComponent('$edgeHub')}?api-version=2021-04-12`);
    expect(del.status).toBe(400);
    // A device that becomes an edge device gets them too.
    const plain = (await registry.create({ deviceId: 'edge-later' })).responseBody as Json;
    expect((await registry.getModulesOnDevice('edge-later')).responseBody).toEqual([]);
    await registry.update({ ...plain, capabilities: { iotEdge: true } } as never);
    expect(((await registry.getModulesOnDevice('edge-later')).responseBody as Json[]).map((m) => m.moduleId)).toEqual(['$edgeAgent', '$edgeHub']);
  });
});

describe('module twins', () => {
  it('reads a module twin with moduleId and updates it both ways (PATCH merge, PUT replace) with versions, etag and $metadata', async () => {
    await registry.create({ deviceId: 'mt-1' });
    await registry.addModule({ deviceId: 'mt-1', moduleId: 'm' } as never);
    const twin = (await registry.getModuleTwin('mt-1', 'm')).responseBody as TwinJson;
    expect(twin).toMatchObject({ deviceId: 'mt-1', moduleId: 'm', etag: 'AAAAAAAAAAE=', version: 1, tags: {} });
    expect(twin.properties.desired.$version).toBe(1);
    const patched = (await registry.updateModuleTwin('mt-1', 'm', { tags: { env: 'dev' }, properties: { desired: { rate: 5, cfg: { a: 1 } } } }, twin.etag))
      .responseBody as TwinJson;
    expect(patched).toMatchObject({ moduleId: 'm', version: 2, etag: 'AAAAAAAAAAI=', tags: { env: 'dev' } });
    expect(patched.properties.desired).toMatchObject({ rate: 5, cfg: { a: 1 }, $version: 2 });
    expect(patched.properties.desired.$metadata.rate.$lastUpdatedVersion).toBe(2);
    const stale = await failure(registry.updateModuleTwin('mt-1', 'm', { tags: { x: 1 } }, twin.etag));
    expect(stale.response.statusCode).toBe(412);
    const replaced = await rest(hub, 'PUT', '/twins/mt-1/modules/m?api-version=2021-04-12', { tags: { only: true }, properties: { desired: { b: 2 } } });
    expect(replaced.status).toBe(200);
    expect(replaced.json.tags).toEqual({ only: true });
    expect(replaced.json.properties.desired).toMatchObject({ b: 2, $version: 3 });
    expect(replaced.json.properties.desired).not.toHaveProperty('rate');
    // The device twin is untouched by its module's.
    const deviceTwin = (await registry.getTwin('mt-1')).responseBody as TwinJson;
    expect(deviceTwin.tags).toEqual({});
    expect(deviceTwin.version).toBe(1);
    expect(deviceTwin).not.toHaveProperty('moduleId');
  });

  it('applies the device twin limits and refuses reported properties from the service', async () => {
    await registry.create({ deviceId: 'mt-lim' });
    await registry.addModule({ deviceId: 'mt-lim', moduleId: 'm' } as never);
    const big = await rest(hub, 'PATCH', '/twins/mt-lim/modules/m?api-version=2021-04-12', { properties: { desired: { big: 'x'.repeat(5000) } } });
    expect(big.status).toBe(400);
    const reported = await rest(hub, 'PATCH', '/twins/mt-lim/modules/m?api-version=2021-04-12', { properties: { reported: { r: 1 } } });
    expect(reported.status).toBe(400);
    const missing = await rest(hub, 'GET', '/twins/mt-lim/modules/none?api-version=2021-04-12');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('iothub-errorcode')).toBe('ModuleNotFound');
  });
});

describe('FROM devices.modules queries', () => {
  beforeAll(async () => {
    for (const d of ['q-a', 'q-b']) {
      await registry.create({ deviceId: d });
      for (const m of ['temp', 'hum', 'cam']) {
        await registry.addModule({ deviceId: d, moduleId: m } as never);
        await registry.updateModuleTwin(d, m, { tags: { qgroup: 'modq', kind: m } }, '*');
      }
    }
  });

  const query = async (text: string, pageSize?: number): Promise<{ items: Json[]; pages: number; itemType: string | null }> => {
    const items: Json[] = [];
    let pages = 0;
    let token: string | undefined;
    let itemType: string | null = null;
    do {
      const response = await rest(
        hub,
        'POST',
        '/devices/query?api-version=2021-04-12',
        { query: text },
        {
          ...(pageSize ? { 'x-ms-max-item-count': String(pageSize) } : {}),
          ...(token ? { 'x-ms-continuation': token } : {}),
        },
      );
      expect(response.status).toBe(200);
      itemType = response.headers.get('x-ms-item-type');
      items.push(...(response.json as Json[]));
      token = response.headers.get('x-ms-continuation') ?? undefined;
      pages++;
    } while (token);
    return { items, pages, itemType };
  };

  it('selects module twins by moduleId, deviceId and twin paths, with x-ms-item-type Twin', async () => {
    const byModule = await query("SELECT * FROM devices.modules WHERE moduleId = 'hum' AND tags.qgroup = 'modq'");
    expect(byModule.itemType).toBe('Twin');
    expect(byModule.items.map((t) => `${t.deviceId}/${t.moduleId}`)).toEqual(['q-a/hum', 'q-b/hum']);
    const byDevice = await query("SELECT * FROM devices.modules WHERE deviceId = 'q-b'");
    expect(byDevice.items.map((t) => t.moduleId)).toEqual(['temp', 'hum', 'cam']);
    const byTag = await query("SELECT * FROM devices.modules WHERE tags.kind IN ['cam', 'temp'] AND deviceId = 'q-a'");
    expect(byTag.items.map((t) => t.moduleId)).toEqual(['temp', 'cam']);
    // Device twins are not module twins and vice versa.
    const devices = await query("SELECT * FROM devices WHERE tags.qgroup = 'modq'");
    expect(devices.items).toEqual([]);
  });

  it('pages through module twins with continuation tokens, and projects and counts them', async () => {
    const paged = await query("SELECT * FROM devices.modules WHERE tags.qgroup = 'modq'", 2);
    expect(paged.pages).toBe(3);
    expect(paged.items.map((t) => `${t.deviceId}/${t.moduleId}`)).toEqual(['q-a/temp', 'q-a/hum', 'q-a/cam', 'q-b/temp', 'q-b/hum', 'q-b/cam']);
    const counted = await query("SELECT COUNT() AS n FROM devices.modules WHERE tags.qgroup = 'modq'");
    expect(counted.items).toEqual([{ n: 6 }]);
    const projected = await query("SELECT deviceId, moduleId FROM devices.modules WHERE tags.kind = 'cam' AND tags.qgroup = 'modq'");
    expect(projected.items).toEqual([
      { deviceId: 'q-a', moduleId: 'cam' },
      { deviceId: 'q-b', moduleId: 'cam' },
    ]);
  });

  it('reaches the SDK query API', async () => {
    const result = await registry.createQuery("SELECT * FROM devices.modules WHERE moduleId = 'cam' AND tags.qgroup = 'modq'").nextAsTwin();
    expect((result.result as unknown as Json[]).map((t) => t.deviceId)).toEqual(['q-a', 'q-b']);
  });
});
