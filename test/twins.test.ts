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

const ETAG_1 = 'AAAAAAAAAAE=';
const ETAG_2 = 'AAAAAAAAAAI=';

describe('twins through the service SDK', () => {
  it('starts a twin with version 1, etag 1 and empty sections with $version 1', async () => {
    await registry.create({ deviceId: 'tw-new' });
    const twin = (await registry.getTwin('tw-new')).responseBody as TwinJson;
    expect(twin.deviceId).toBe('tw-new');
    expect(twin.etag).toBe(ETAG_1);
    expect(twin.version).toBe(1);
    expect(twin.status).toBe('enabled');
    expect(twin.connectionState).toBe('Disconnected');
    expect(twin.tags).toEqual({});
    expect(twin.properties.desired.$version).toBe(1);
    expect(twin.properties.reported.$version).toBe(1);
    expect(twin.properties.desired.$metadata.$lastUpdated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
  });

  it('merges a patch (null deletes), bumps versions and records $metadata', async () => {
    await registry.create({ deviceId: 'tw-merge' });
    await registry.updateTwin('tw-merge', { tags: { building: '43', floor: 2 }, properties: { desired: { interval: 5, cfg: { a: 1, b: 2 } } } }, '*');
    const after = (await registry.updateTwin('tw-merge', { tags: { floor: null }, properties: { desired: { cfg: { b: null, c: 3 } } } }, '*'))
      .responseBody as TwinJson;
    expect(after.tags).toEqual({ building: '43' });
    expect(after.properties.desired).toMatchObject({ interval: 5, cfg: { a: 1, c: 3 }, $version: 3 });
    expect(after.properties.desired.cfg).not.toHaveProperty('b');
    expect(after.version).toBe(3);
    expect(after.etag).toBe('AAAAAAAAAAM=');
    const meta = after.properties.desired.$metadata;
    expect(meta.$lastUpdatedVersion).toBe(3);
    expect(meta.interval.$lastUpdatedVersion).toBe(2);
    expect(meta.cfg.$lastUpdatedVersion).toBe(3);
    expect(meta.cfg.a.$lastUpdatedVersion).toBe(2);
    expect(meta.cfg.c.$lastUpdatedVersion).toBe(3);
    expect(meta.cfg).not.toHaveProperty('b');
  });

  it('clears all desired properties with desired: null', async () => {
    await registry.create({ deviceId: 'tw-null' });
    await registry.updateTwin('tw-null', { properties: { desired: { a: 1, b: 2 } } }, '*');
    const cleared = (await registry.updateTwin('tw-null', { properties: { desired: null } }, '*')).responseBody as TwinJson;
    expect(Object.keys(cleared.properties.desired).sort()).toEqual(['$metadata', '$version']);
  });

  it('honours If-Match: a stale etag gets 412 and InvalidEtagError', async () => {
    await registry.create({ deviceId: 'tw-etag' });
    await registry.updateTwin('tw-etag', { tags: { x: 1 } }, ETAG_1);
    const error = await registry.updateTwin('tw-etag', { tags: { x: 2 } }, ETAG_1).catch((e) => e);
    expect(error.constructor.name).toBe('InvalidEtagError');
    expect(error.response.statusCode).toBe(412);
    const twin = (await registry.getTwin('tw-etag')).responseBody as TwinJson;
    expect(twin.tags).toEqual({ x: 1 });
    expect(twin.etag).toBe(ETAG_2);
  });

  it('updates through a Twin object, which keeps its etag', async () => {
    await registry.create({ deviceId: 'tw-obj' });
    const twin = (await registry.getTwin('tw-obj')).responseBody as TwinJson;
    await twin.update({ tags: { room: 'a' } });
    expect(twin.tags).toEqual({ room: 'a' });
    expect(twin.etag).toBe(ETAG_2);
    // The cached etag is now current, so a second update through the same object succeeds.
    await twin.update({ tags: { room: 'b' } });
    expect(((await registry.getTwin('tw-obj')).responseBody as TwinJson).tags).toEqual({ room: 'b' });
  });

  it('replaces tags and desired with PUT', async () => {
    await registry.create({ deviceId: 'tw-put' });
    await registry.updateTwin('tw-put', { tags: { old: 1 }, properties: { desired: { old: 1 } } }, '*');
    const put = await rest(hub, 'PUT', '/twins/tw-put?api-version=2021-04-12', {
      deviceId: 'tw-put',
      etag: null,
      tags: { fresh: true },
      properties: { desired: { fresh: 1 }, reported: {} },
    });
    expect(put.status).toBe(200);
    expect(put.json.tags).toEqual({ fresh: true });
    expect(put.json.properties.desired).toMatchObject({ fresh: 1, $version: 3 });
    expect(put.json.properties.desired).not.toHaveProperty('old');
  });

  it('refuses a service write to reported properties', async () => {
    await registry.create({ deviceId: 'tw-rep' });
    const error = await registry.updateTwin('tw-rep', { properties: { reported: { x: 1 } } }, '*').catch((e) => e);
    expect(error.response.statusCode).toBe(400);
  });

  it('answers 404 DeviceNotFound for an unknown twin', async () => {
    const error = await registry.getTwin('tw-none').catch((e) => e);
    expect(error.response.statusCode).toBe(404);
    expect(error.response.headers['iothub-errorcode']).toBe('DeviceNotFound');
  });
});

describe('twin content rules answer 400 in the hub envelope and change nothing', () => {
  beforeAll(async () => {
    await registry.create({ deviceId: 'tw-rules' });
  });

  const expectRejected = async (patch: object, text: RegExp): Promise<void> => {
    const response = await rest(hub, 'PATCH', '/twins/tw-rules?api-version=2021-04-12', patch, { 'if-match': '"*"' });
    expect(response.status).toBe(400);
    expect(response.headers.get('iothub-errorcode')).toBe('ArgumentInvalid');
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.json.Message).toMatch(/^ErrorCode:ArgumentInvalid;/);
    expect(response.json.Message).toMatch(text);
    expect(response.json.ExceptionMessage).toMatch(/^Tracking ID:[0-9A-F]{32}-G:0-TimeStamp:\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d$/);
  };

  it('desired over 32 KB', async () => {
    await expectRejected(
      { properties: { desired: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'x'.repeat(4000)])) } },
      /over the limit of 32768/,
    );
  });

  it('tags over 8 KB', async () => {
    await expectRejected({ tags: { a: 'x'.repeat(4000), b: 'x'.repeat(4000), c: 'x'.repeat(400) } }, /tags would be \d+ bytes/);
  });

  it('a string over 4 KB, a key with $ or ., nesting deeper than 10', async () => {
    await expectRejected({ tags: { a: 'x'.repeat(4097) } }, /longer than 4096/);
    await expectRejected({ tags: { $bad: 1 } }, /forbidden character/);
    await expectRejected({ tags: { 'a.b': 1 } }, /forbidden character/);
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 11; i++) deep = { [`l${i}`]: deep };
    await expectRejected({ properties: { desired: deep } }, /nesting depth/);
  });

  it('a nesting depth of exactly 10 objects is accepted', async () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 9; i++) deep = { [`l${i}`]: deep };
    const ok = await rest(hub, 'PATCH', '/twins/tw-rules', { tags: { deep } });
    expect(ok.status).toBe(200);
  });

  it('invalid JSON, and the hub keeps serving', async () => {
    const response = await rest(hub, 'PATCH', '/twins/tw-rules', '{"tags": {', { 'if-match': '*' });
    expect(response.status).toBe(400);
    expect(response.json.Message).toMatch(/^ErrorCode:ArgumentInvalid;The request body is not valid JSON/);
    const twin = (await registry.getTwin('tw-rules')).responseBody as TwinJson;
    expect(twin.properties.desired.$version).toBe(1);
  });

  it('an unknown route is a 404 in the same envelope', async () => {
    const response = await rest(hub, 'GET', '/nothing/here');
    expect(response.status).toBe(404);
    expect(response.json.Message).toMatch(/^ErrorCode:NotFound;/);
  });
});
