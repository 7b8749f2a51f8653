import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { call, queryAll, Registry } from './support/job-helpers.js';
import { waitUntil } from './support/wait.js';

// POST /devices/query (docs/protocol.md §3.5) as the Node SDK and raw HTTPS see it: paging, item types, errors.

let hub: Hub;
let registry: InstanceType<typeof Registry>;
const COUNT = 250;
const ids = Array.from({ length: COUNT }, (_, i) => `q${String(i).padStart(3, '0')}`);
const QUERY = '/devices/query?api-version=2021-04-12';

beforeAll(async () => {
  hub = await startTestHub();
  registry = Registry.fromConnectionString(hub.connectionString());
  for (let i = 0; i < COUNT; i += 100) {
    const batch = ids.slice(i, i + 100).map((id, j) => ({ id, importMode: 'create', tags: { building: String(40 + ((i + j) % 3)), n: i + j } }));
    const answer = await call(hub, 'POST', '/devices?api-version=2021-04-12', batch);
    expect(answer.status).toBe(200);
  }
});
afterAll(() => hub?.stop());

/** Devices a test makes for itself, removed when it ends, so the 250 above stay as every test expects them. */
async function ownDevices<T>(items: { id: string; tags?: object }[], body: () => Promise<T>): Promise<T> {
  for (let i = 0; i < items.length; i += 100) {
    const answer = await call(
      hub,
      'POST',
      '/devices?api-version=2021-04-12',
      items.slice(i, i + 100).map((d) => ({ ...d, importMode: 'create' })),
    );
    expect(answer.status).toBe(200);
  }
  try {
    return await body();
  } finally {
    for (let i = 0; i < items.length; i += 100) {
      await call(
        hub,
        'POST',
        '/devices?api-version=2021-04-12',
        items.slice(i, i + 100).map((d) => ({ id: d.id, importMode: 'delete' })),
      );
    }
  }
}

describe('paging', () => {
  it('pages SELECT * through Registry.createQuery(...).nextAsTwin() and ends: no continuation on the last page', async () => {
    const query = registry.createQuery('SELECT * FROM devices', 100);
    const seen: string[] = [];
    let pages = 0;
    while (query.hasMoreResults && pages < 10) {
      const page = await query.nextAsTwin();
      pages++;
      for (const twin of page.result) seen.push(twin.deviceId);
      expect(page.result[0]!.constructor.name).toBe('Twin');
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
  });

  it('sends x-ms-continuation only while more pages exist, and 100 items when no size is asked', async () => {
    const first = await call(hub, 'POST', QUERY, { query: 'SELECT * FROM devices' });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(first.headers.get('x-ms-item-type')).toBe('Twin');
    expect(Array.isArray(first.json)).toBe(true);
    expect(first.json).toHaveLength(100);
    const token = first.headers.get('x-ms-continuation');
    expect(token).toBeTruthy();
    const second = await call(hub, 'POST', QUERY, { query: 'SELECT * FROM devices' }, { 'x-ms-continuation': token! });
    expect(second.json[0].deviceId).toBe('q100');
    const third = await call(hub, 'POST', QUERY, { query: 'SELECT * FROM devices' }, { 'x-ms-continuation': second.headers.get('x-ms-continuation')! });
    expect(third.json).toHaveLength(50);
    expect(third.headers.has('x-ms-continuation')).toBe(false);
  });

  it('caps a page at 100 items whatever x-ms-max-item-count asks (EMULATOR CHOICE, docs/protocol.md §8.19)', async () => {
    const big = await call(hub, 'POST', QUERY, { query: 'SELECT * FROM devices' }, { 'x-ms-max-item-count': '1000' });
    expect(big.json).toHaveLength(100);
    const small = await call(hub, 'POST', QUERY, { query: 'SELECT * FROM devices' }, { 'x-ms-max-item-count': '7' });
    expect(small.json).toHaveLength(7);
  });

  it('keeps TOP across pages', async () => {
    const { items, pages } = await queryAll(hub, "SELECT TOP 10 * FROM devices WHERE tags.building = '41'", 4);
    expect(pages).toBe(3);
    expect(items).toHaveLength(10);
    expect(items.every((t) => t.tags.building === '41')).toBe(true);
  });

  it('pages aggregates and projections too', async () => {
    const { items, pages } = await queryAll(hub, 'SELECT deviceId, tags.n FROM devices WHERE tags.n >= 200', 20);
    expect(pages).toBe(3);
    expect(items).toEqual(ids.slice(200).map((id, i) => ({ deviceId: id, n: 200 + i })));
  });

  it('refuses a continuation token it did not issue, or one issued for another query', async () => {
    const bogus = await call(hub, 'POST', QUERY, { query: 'SELECT * FROM devices' }, { 'x-ms-continuation': 'not-a-token' });
    expect(bogus.status).toBe(400);
    const token = (await call(hub, 'POST', QUERY, { query: 'SELECT * FROM devices' })).headers.get('x-ms-continuation')!;
    const other = await call(hub, 'POST', QUERY, { query: "SELECT * FROM devices WHERE tags.building = '40'" }, { 'x-ms-continuation': token });
    expect(other.status).toBe(400);
    expect(other.json.Message).toMatch(/different query/);
  });
});

describe('results and item types', () => {
  it('returns full twins (with $metadata) that reflect a twin update at once', async () => {
    await ownDevices([{ id: 'moving', tags: { building: '41', n: 7 } }], async () => {
      const before = ((await registry.getTwin('moving')).responseBody as any).etag;
      const after = ((await registry.updateTwin('moving', { tags: { building: '99' }, properties: { desired: { mode: 'eco' } } }, '*')).responseBody as any)
        .etag;
      const answer = await call(hub, 'POST', QUERY, { query: "SELECT * FROM devices WHERE tags.building = '99'" });
      expect(answer.json).toHaveLength(1);
      const twin = answer.json[0];
      expect(twin).toMatchObject({
        deviceId: 'moving',
        status: 'enabled',
        tags: { building: '99', n: 7 },
        properties: { desired: { mode: 'eco', $version: 2 } },
      });
      expect(twin.properties.desired.$metadata.mode.$lastUpdated).toBeDefined();
      expect(twin.etag).toBe(after);
      expect(twin.etag).not.toBe(before);
    });
  });

  it('keeps the order of a deviceId IN [...] list (read through the id index)', async () => {
    const answer = await call(hub, 'POST', QUERY, { query: "SELECT * FROM devices WHERE deviceId IN ['q200', 'q003', 'missing', 'q150']" });
    expect(answer.json.map((t: any) => t.deviceId)).toEqual(['q200', 'q003', 'q150']);
  });

  it('answers aggregates as Raw, e.g. COUNT() … GROUP BY', async () => {
    await ownDevices([{ id: 'lonely', tags: { building: '99' } }], async () => {
      const answer = await call(hub, 'POST', QUERY, { query: 'SELECT tags.building, COUNT() AS numberOfDevices FROM devices GROUP BY tags.building' });
      expect(answer.headers.get('x-ms-item-type')).toBe('Raw');
      const counts = Object.fromEntries(answer.json.map((g: any) => [g.building, g.numberOfDevices]));
      // n % 3 over 0…249 gives 84/83/83, and this test's own device is alone in building 99.
      expect(counts).toEqual({ '40': 84, '41': 83, '42': 83, '99': 1 });
      const total = await call(hub, 'POST', QUERY, { query: 'SELECT COUNT() AS n FROM devices' });
      expect(total.json).toEqual([{ n: COUNT + 1 }]);
    });
  });

  it('answers devices.jobs as DeviceJob and devices.modules as (empty) Twin', async () => {
    // A job no test makes: the answer is empty whatever jobs other tests ran.
    const jobs = await call(hub, 'POST', QUERY, { query: "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'never-made'" });
    expect(jobs.headers.get('x-ms-item-type')).toBe('DeviceJob');
    expect(jobs.json).toEqual([]);
    const modules = await call(hub, 'POST', QUERY, { query: 'SELECT * FROM devices.modules' });
    expect(modules.headers.get('x-ms-item-type')).toBe('Twin');
    expect(modules.json).toEqual([]);
  });

  it('lets RegistryRead and ServiceConnect policies query, not a device policy', async () => {
    for (const policy of ['registryRead', 'service']) {
      expect((await call(hub, 'POST', QUERY, { query: 'SELECT COUNT() FROM devices' }, {}, policy)).status).toBe(200);
    }
    expect((await call(hub, 'POST', QUERY, { query: 'SELECT COUNT() FROM devices' }, {}, 'device')).status).toBe(401);
  });
});

describe('resuming a page', () => {
  it('resumes after the last twin of the previous page: a twin deleted meanwhile does not shift the next page', async () => {
    // 250 devices of its own, which only its query selects: the deletions below leave the others alone.
    const own = Array.from({ length: COUNT }, (_, i) => ({ id: `r${String(i).padStart(3, '0')}`, tags: { resume: true } }));
    await ownDevices(own, async () => {
      const sql = { query: 'SELECT * FROM devices WHERE tags.resume = true' };
      const first = await call(hub, 'POST', QUERY, sql);
      expect(first.json.at(-1).deviceId).toBe('r099');
      await registry.delete('r050');
      const second = await call(hub, 'POST', QUERY, sql, { 'x-ms-continuation': first.headers.get('x-ms-continuation')! });
      expect(second.json[0].deviceId).toBe('r100');
      // Even when the twin a page ended on is gone, the next page resumes after its place in the
      // registry order (docs/protocol.md §4.7): nothing that still exists is skipped or repeated.
      await registry.delete('r199');
      const third = await call(hub, 'POST', QUERY, sql, { 'x-ms-continuation': second.headers.get('x-ms-continuation')! });
      expect(third.json[0].deviceId).toBe('r200');
    });
  });

  it('pages the device-job records of a large job, each record once', async () => {
    const job = await call(hub, 'PUT', '/jobs/v2/tag-all', {
      type: 'scheduleUpdateTwin',
      queryCondition: "STARTSWITH(deviceId, 'q')",
      updateTwin: { tags: { paged: true } },
    });
    expect(job.status).toBe(200);
    await waitUntil(async () => (await call(hub, 'GET', '/jobs/v2/tag-all')).json.status === 'completed', 5000, 'the tagging job to complete');
    const { items, pages } = await queryAll(hub, "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'tag-all'", 100);
    expect(pages).toBe(3);
    expect(items).toHaveLength(COUNT);
    expect(new Set(items.map((r) => r.deviceId)).size).toBe(COUNT);
    expect(items.every((r) => r.status === 'completed')).toBe(true);
  });
});

describe('errors', () => {
  it("answers a syntax error with 400 in the hub's envelope, naming the position and what was expected", async () => {
    const answer = await call(hub, 'POST', QUERY, { query: "SELECT * FROM devices WHER tags.x = 'y'" });
    expect(answer.status).toBe(400);
    expect(answer.headers.get('iothub-errorcode')).toBe('ArgumentInvalid');
    expect(answer.json.Message).toBe(
      "ErrorCode:ArgumentInvalid;The query is invalid. Syntax error at position 22 near 'WHER': expected WHERE, GROUP BY or end of query",
    );
    expect(answer.json.ExceptionMessage).toMatch(/^Tracking ID:[0-9A-F]{32}-G:0-TimeStamp:/);
  });

  it('answers an unknown function with 400, not 500', async () => {
    const answer = await call(hub, 'POST', QUERY, { query: "SELECT * FROM devices WHERE CONTAINS(deviceId, 'q')" });
    expect(answer.status).toBe(400);
    expect(answer.json.Message).toMatch(/^ErrorCode:ArgumentInvalid;The query is invalid\. .*CONTAINS/);
  });

  it('answers a missing query with 400 ArgumentNull', async () => {
    const answer = await call(hub, 'POST', QUERY, {});
    expect(answer.status).toBe(400);
    expect(answer.headers.get('iothub-errorcode')).toBe('ArgumentNull');
  });

  it('surfaces as an ArgumentError in the Node SDK', async () => {
    const error = await registry
      .createQuery('SELECT FROM devices')
      .nextAsTwin()
      .catch((e) => e);
    expect(error.constructor.name).toBe('ArgumentError');
    expect(error.message).toMatch(/The query is invalid\. Syntax error at position 7/);
  });
});
