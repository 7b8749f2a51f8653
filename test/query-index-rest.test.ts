import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { call, connectDevice, Registry } from './support/job-helpers.js';

// Query indexes (docs/protocol.md §4.7, docs/scaling.md §3.2) seen through the wire: the unmodified
// azure-iothub SDK against a hub with indexes (the default) and one started with
// `--query-index off`, which scans; the same registrations give the same answers on both, paging
// while devices come and go neither repeats nor skips one, and a device connecting over MQTT
// moves between connection states in the index as it does in the twin.

let indexed: Hub;
let scanning: Hub;
const QUERY = '/devices/query?api-version=2021-04-12';

/** Devices whose tags mix the types the language keeps apart, with a few modules each. */
function fleet(): { id: string; importMode: 'create'; tags: Record<string, unknown>; status?: string }[] {
  const values: unknown[] = ['prod', 'PROD', 'dev', 1, '1', true, null, { a: 1 }];
  return Array.from({ length: 90 }, (_, i) => ({
    id: `ix${String(i).padStart(3, '0')}`,
    importMode: 'create' as const,
    tags: { env: values[i % values.length], n: i % 7, ...(i % 5 === 0 && { ENV: 'prod' }) },
    ...(i % 11 === 0 && { status: 'disabled' }),
  }));
}

async function register(hub: Hub): Promise<void> {
  const answer = await call(hub, 'POST', '/devices?api-version=2021-04-12', fleet());
  expect(answer.status).toBe(200);
  for (let i = 0; i < 90; i += 3) {
    for (const m of ['m0', 'm1']) {
      expect((await call(hub, 'PUT', `/devices/ix${String(i).padStart(3, '0')}/modules/${m}?api-version=2021-04-12`, {})).status).toBe(200);
    }
  }
}

async function pages(hub: Hub, sql: string, pageSize: number): Promise<unknown[][]> {
  const query = Registry.fromConnectionString(hub.connectionString()).createQuery(sql, pageSize);
  const out: unknown[][] = [];
  while (query.hasMoreResults) {
    const page = await query.next(query.continuationToken as string);
    out.push(page.result as unknown[]);
    expect(out.length).toBeLessThan(200);
  }
  return out;
}

beforeAll(async () => {
  indexed = await startTestHub();
  scanning = await startTestHub({ queryIndex: 'off' });
  await register(indexed);
  await register(scanning);
});
afterAll(async () => {
  await indexed?.stop();
  await scanning?.stop();
});

describe('a hub with indexes answers as one that scans', () => {
  const queries = [
    "SELECT * FROM devices WHERE tags.env = 'prod'",
    "SELECT * FROM devices WHERE Tags.Env = 'prod' OR tags.n IN [1, 3]",
    'SELECT * FROM devices WHERE tags.env = 1',
    "SELECT * FROM devices WHERE tags.env = '1'",
    'SELECT * FROM devices WHERE tags.env = true OR IS_DEFINED(tags.env.a)',
    'SELECT * FROM devices WHERE tags.n >= 2 AND tags.n < 5',
    "SELECT * FROM devices WHERE status = 'disabled' AND tags.n > 3",
    "SELECT * FROM devices WHERE STARTSWITH(deviceId, 'ix02')",
    "SELECT * FROM devices WHERE NOT (tags.env = 'prod')",
    'SELECT tags.env, COUNT() AS n FROM devices GROUP BY tags.env',
    'SELECT tags.n, COUNT() AS c FROM devices GROUP BY tags.n',
    "SELECT COUNT() AS n FROM devices WHERE tags.env IN ['prod', 'dev']",
    "SELECT * FROM devices.modules WHERE moduleId = 'm1'",
    "SELECT * FROM devices.modules WHERE deviceId IN ['ix003', 'ix006'] OR moduleId = 'm0'",
  ];
  for (const sql of queries) {
    it(sql, async () => {
      // etags and times differ between the two hubs; ids and the selected values do not.
      const shape = (all: unknown[][]) =>
        all.map((page) =>
          page.map((row) => {
            const r = row as { deviceId?: string; moduleId?: string; tags?: unknown };
            return r.deviceId === undefined ? row : { deviceId: r.deviceId, moduleId: r.moduleId, tags: r.tags };
          }),
        );
      const got = shape(await pages(indexed, sql, 7));
      expect(got).toEqual(shape(await pages(scanning, sql, 7)));
      expect(got.flat().length).toBeGreaterThan(0);
    });
  }
});

describe('paging through Registry.createQuery while devices come and go', () => {
  it('returns every device that exists throughout exactly once, even when the last one of a page is deleted', async () => {
    const registry = Registry.fromConnectionString(indexed.connectionString());
    const stable = Array.from({ length: 60 }, (_, i) => `pg-s${String(i).padStart(2, '0')}`);
    const transient = (n: number) => `pg-t${n}`;
    const create = async (ids: string[]) =>
      expect(
        (
          await call(
            indexed,
            'POST',
            '/devices?api-version=2021-04-12',
            ids.map((id) => ({ id, importMode: 'create', tags: { paging: 'yes' } })),
          )
        ).status,
      ).toBe(200);
    // Stable and transient devices interleaved in the registry order.
    for (let i = 0; i < 60; i += 6) await create([...stable.slice(i, i + 6), transient(i)]);
    let next = 1000;
    const query = registry.createQuery("SELECT * FROM devices WHERE tags.paging = 'yes'", 8);
    const seen: string[] = [];
    while (query.hasMoreResults) {
      const page = await query.nextAsTwin();
      const ids = page.result.map((t) => t.deviceId);
      seen.push(...ids);
      // The page's last device is deleted if it is a transient one; others come and go elsewhere.
      const last = ids.at(-1)!;
      if (last.startsWith('pg-t')) await registry.delete(last);
      const gone = seen.find((id) => id.startsWith('pg-t') && id !== last);
      if (gone) await registry.delete(gone).catch(() => undefined);
      await create([transient(next++)]);
      expect(seen.length).toBeLessThan(500);
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(stable.filter((id) => !seen.includes(id))).toEqual([]);
  });
});

describe('connection state in the index', () => {
  it('follows a device connecting and disconnecting over MQTT', async () => {
    const connected = async (): Promise<string[]> =>
      ((await call(indexed, 'POST', QUERY, { query: "SELECT deviceId FROM devices WHERE connectionState = 'Connected'" })).json as { deviceId: string }[]).map(
        (r) => r.deviceId,
      );
    expect(await connected()).toEqual([]);
    const device = await connectDevice(indexed, 'ix001');
    try {
      await expect.poll(connected, { timeout: 10_000 }).toEqual(['ix001']);
    } finally {
      await device.close();
    }
    await expect.poll(connected, { timeout: 10_000 }).toEqual([]);
  });
});
