import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { call } from './support/job-helpers.js';
import { registryFor } from './support/sdk.js';

// GET/PATCH/PUT /twins/{id} are served in front of express (emulator/rest/twin-route.ts): the
// same answers as the express route, in every form a client may send.

let hub: Hub;

beforeAll(async () => {
  hub = await startTestHub();
  await registryFor(hub).create({ deviceId: 'tr-door' });
  await registryFor(hub).create({ deviceId: 'a:b%c' });
});
afterAll(() => hub?.stop());

const patch = (n: number) => ({ properties: { desired: { n } } });

describe('the twin route', () => {
  it('matches /twins/{id} case-insensitively, with a trailing slash and a query', async () => {
    for (const path of ['/twins/tr-door', '/TWINS/tr-door/', '/Twins/tr-door?api-version=2021-04-12', '/twins/tr-door/?api-version=2021-04-12']) {
      const response = await call(hub, 'GET', path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(response.json.deviceId).toBe('tr-door');
    }
    const patched = await call(hub, 'PATCH', '/TWINS/tr-door/?api-version=2021-04-12', patch(1), { 'if-match': '*' });
    expect(patched.status).toBe(200);
    expect(patched.json.properties.desired.n).toBe(1);
  });

  it('percent-decodes the device id; an id that does not decode is refused as before', async () => {
    const response = await call(hub, 'GET', `/twins/${encodeURIComponent('a:b%c')}`);
    expect(response.status).toBe(200);
    expect(response.json.deviceId).toBe('a:b%c');
    const broken = await call(hub, 'GET', '/twins/%E0%A4%A');
    expect(broken.status).toBe(400);
    expect(broken.headers.get('iothub-errorcode')).toBe('ArgumentInvalid');
  });

  it('checks the policy: registryRead reads but cannot write, service (ServiceConnect) does both', async () => {
    expect((await call(hub, 'GET', '/twins/tr-door', undefined, {}, 'registryRead')).status).toBe(200);
    const refused = await call(hub, 'PATCH', '/twins/tr-door', patch(2), {}, 'registryRead');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('iothub-errorcode')).toBe('IotHubUnauthorizedAccess');
    expect(refused.json.Message).toMatch(/^ErrorCode:IotHubUnauthorizedAccess;Unauthorized: policy 'registryRead' lacks/);
    expect((await call(hub, 'PATCH', '/twins/tr-door', patch(3), {}, 'service')).status).toBe(200);
    const none = await fetch(`https://${hub.hostName}:${hub.httpsPort}/twins/tr-door`);
    expect(none.status).toBe(401);
  });

  it('reads bodies as the express face did: empty, over 1 MB, and gzip-encoded', async () => {
    const empty = await call(hub, 'PATCH', '/twins/tr-door', '');
    expect(empty.status).toBe(400);
    expect(empty.headers.get('iothub-errorcode')).toBe('ArgumentNull');
    const huge = await call(hub, 'PATCH', '/twins/tr-door', JSON.stringify({ tags: { a: 'x'.repeat(1024 * 1024) } }));
    expect(huge.status).toBe(413);
    expect(huge.headers.get('iothub-errorcode')).toBe('MessageTooLarge');
    const gzipped = await fetch(`https://${hub.hostName}:${hub.httpsPort}/twins/tr-door`, {
      method: 'PATCH',
      headers: { authorization: hub.serviceToken(), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(patch(4))),
    });
    expect(gzipped.status).toBe(200);
    expect(((await gzipped.json()) as { properties: { desired: { n: number } } }).properties.desired.n).toBe(4);
  });

  it('leaves other methods and deeper paths to express', async () => {
    const head = await fetch(`https://${hub.hostName}:${hub.httpsPort}/twins/tr-door`, { method: 'HEAD', headers: { authorization: hub.serviceToken() } });
    expect(head.status).toBe(200);
    const post = await call(hub, 'POST', '/twins/tr-door', patch(5));
    expect(post.status).toBe(404);
    expect(post.json.Message).toMatch(/^ErrorCode:NotFound;/);
    // Module twins are express's (twins-router): this device has no module m1.
    const moduleTwin = await call(hub, 'GET', '/twins/tr-door/modules/m1');
    expect(moduleTwin.status).toBe(404);
    expect(moduleTwin.json.Message).toMatch(/^ErrorCode:ModuleNotFound;/);
  });

  it('counts twin reads and updates for /metrics, success and failure', async () => {
    const scrape = async () => {
      const text = await (await fetch(`https://${hub.hostName}:${hub.httpsPort}/metrics`, { headers: { authorization: hub.serviceToken() } })).text();
      const value = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      return {
        readOk: value('c2d_twin_read_success'),
        readFailed: value('c2d_twin_read_failure'),
        updateOk: value('c2d_twin_update_success'),
        updateFailed: value('c2d_twin_update_failure'),
      };
    };
    const before = await scrape();
    await call(hub, 'GET', '/twins/tr-door');
    await call(hub, 'GET', '/twins/tr-nobody');
    await call(hub, 'PUT', '/twins/tr-door', { tags: { put: true } });
    await call(hub, 'PATCH', '/twins/tr-door', patch(6), { 'if-match': '"stale"' });
    const after = await scrape();
    expect({
      readOk: after.readOk - before.readOk,
      readFailed: after.readFailed - before.readFailed,
      updateOk: after.updateOk - before.updateOk,
      updateFailed: after.updateFailed - before.updateFailed,
    }).toEqual({ readOk: 1, readFailed: 1, updateOk: 1, updateFailed: 1 });
  });
});
