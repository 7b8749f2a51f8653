import { describe, expect, it } from 'vitest';
import { statusRows } from '../../emulator/configurations/status-rows.js';
import { parseQuery, runQuery } from '../../emulator/query/index.js';

// Twin views as metric queries get them: some targeted (statuses), some not (an empty object).
const applied = { cfg: { status: 'Applied' } };
const targeted = { cfg: { status: 'Targeted' }, other: { status: 'Applied' } };
const views = Array.from({ length: 30 }, (_, i) => ({
  deviceId: `d${i}`,
  status: 'enabled',
  version: i,
  tags: { building: String(i % 3) },
  properties: { desired: { $version: 1 }, reported: { $version: 1 } },
  ...(i % 7 === 0 ? { deviceScope: 'ms-azure-iot-edge://x' } : {}),
}));
const statusesOf = (i: number): object => (i % 3 === 0 ? applied : i % 3 === 1 ? targeted : {});

describe('statusRows: a view with configurations, read as the copy { ...view, configurations } reads', () => {
  const copies = views.map((view, i) => ({ ...view, configurations: statusesOf(i) }));
  const makers = [statusRows(applied), statusRows(targeted), statusRows({})];
  const rows = views.map((view, i) => makers[i % 3](view));

  it.each([
    "SELECT * FROM devices WHERE configurations.[[cfg]].status = 'Applied'",
    "SELECT deviceId FROM devices WHERE Configurations.[[cfg]].Status = 'Targeted'",
    'SELECT COUNT() AS n FROM devices WHERE IS_DEFINED(configurations)',
    'SELECT deviceId FROM devices WHERE NOT IS_DEFINED(configurations.[[cfg]])',
    "SELECT deviceId, configurations FROM devices WHERE tags.building = '1'",
    'SELECT configurations.[[cfg]].status AS s, COUNT() AS n FROM devices GROUP BY configurations.[[cfg]].status',
    "SELECT deviceId FROM devices WHERE IS_DEFINED(deviceScope) AND configurations.[[other]].status = 'Applied'",
  ])('%s', (text) => {
    const query = parseQuery(text);
    expect(JSON.stringify(runQuery(query, rows))).toBe(JSON.stringify(runQuery(query, copies)));
  });

  it('has the copy’s own keys, in its order, and refuses writes', () => {
    expect(Object.keys(rows[0])).toEqual(Object.keys(copies[0]));
    expect(JSON.stringify(rows[1])).toBe(JSON.stringify(copies[1]));
    expect('configurations' in rows[2]).toBe(true);
    expect(() => {
      (rows[0] as Record<string, unknown>).configurations = {};
    }).toThrow(TypeError);
  });
});
