import { describe, expect, it } from 'vitest';
import { parseJobCondition, parseQuery, runQuery, type Query } from '../../emulator/query/index.js';

// Twins shaped like the service view (docs/protocol.md §2.1), modelled on the sample twin of
// query-twins.md. telemetryConfig.status is Success ×3, Pending ×2, Error ×1 — the documented
// GROUP BY result — plus one twin without it.
const twins = [
  {
    deviceId: 'AZ3166Device',
    etag: 'AAAAAAAAAAc=',
    version: 2,
    status: 'enabled',
    connectionState: 'Disconnected',
    lastActivityTime: '2021-05-07T00:50:38.0543092Z',
    cloudToDeviceMessageCount: 0,
    authenticationType: 'sas',
    capabilities: { iotEdge: false },
    tags: { location: { region: 'US', plant: 'Redmond43' }, note: "it's" },
    properties: {
      desired: { telemetryConfig: { sendFrequencyInSecs: 300 }, $metadata: {}, $version: 4 },
      reported: { telemetryConfig: { status: 'Success', sendFrequencyInSecs: 300 }, connectivity: 'wifi', $version: 7 },
    },
  },
  {
    deviceId: 'building43-a',
    status: 'enabled',
    connectionState: 'Connected',
    lastActivityTime: '2024-01-02T00:00:00Z',
    capabilities: { iotEdge: false },
    tags: { Building: '43', location: { region: 'US' } },
    properties: { desired: {}, reported: { telemetryConfig: { status: 'Success', sendFrequencyInSecs: 30 }, connectivity: 'wired' } },
  },
  {
    deviceId: 'building43-b',
    status: 'disabled',
    connectionState: 'Disconnected',
    lastActivityTime: '2023-06-01T00:00:00Z',
    capabilities: { iotEdge: false },
    tags: { building: '43', group: { name: 'g1' } },
    properties: { desired: {}, reported: { telemetryConfig: { status: 'Pending', sendFrequencyInSecs: 60 }, connectivity: { type: 'cellular' } } },
  },
  {
    deviceId: 'test-device-1',
    status: 'enabled',
    connectionState: 'Disconnected',
    capabilities: { iotEdge: false },
    tags: { location: { region: 'EU' }, list: ['a', 'b'] },
    properties: { desired: {}, reported: { telemetryConfig: { status: 'Pending' }, temperature: 21.5 } },
  },
  {
    deviceId: 'test-device-2',
    status: 'enabled',
    connectionState: 'Connected',
    lastActivityTime: '2024-03-01T10:00:00Z',
    capabilities: { iotEdge: true },
    tags: { location: { region: 'us' } },
    properties: { desired: {}, reported: { telemetryConfig: { status: 'Success' }, temperature: 25 } },
  },
  {
    deviceId: 'edge-1',
    status: 'enabled',
    connectionState: 'Connected',
    lastActivityTime: '2024-02-01T00:00:00Z',
    capabilities: { iotEdge: true },
    tags: {},
    properties: { desired: {}, reported: { telemetryConfig: { status: 'Error' }, temperature: null } },
  },
  {
    deviceId: 'bare',
    status: 'enabled',
    connectionState: 'Disconnected',
    lastActivityTime: '0001-01-01T00:00:00Z',
    capabilities: { iotEdge: false },
    properties: { desired: { $version: 1 }, reported: { $version: 1 } },
  },
];

const modules = [
  { deviceId: 'device1', moduleId: 'scanner', properties: { desired: {}, reported: { status: 'scanning' } } },
  { deviceId: 'device2', moduleId: 'scanner', properties: { desired: {}, reported: { status: 'idle' } } },
  { deviceId: 'device3', moduleId: 'scanner', properties: { desired: {}, reported: { status: 'scanning' } } },
  { deviceId: 'device1', moduleId: '$edgeAgent', properties: { desired: {}, reported: { status: 'running' } } },
];

// Device-job records (docs/protocol.md §5.4), timestamps as in the doc sample.
const deviceJobs = [
  {
    deviceId: 'myDeviceId',
    jobId: 'myJobId',
    jobType: 'scheduleUpdateTwin',
    status: 'completed',
    startTimeUtc: '2016-09-29T18:18:52.7418462',
    endTimeUtc: '2016-09-29T18:20:52.7418462',
    createdDateTimeUtc: '2016-09-29T18:18:56.7787107Z',
    lastUpdatedDateTimeUtc: '2016-09-29T18:18:56.8894408Z',
    outcome: { deviceMethodResponse: null },
  },
  {
    deviceId: 'myDeviceId',
    jobId: 'olderJob',
    jobType: 'scheduleUpdateTwin',
    status: 'completed',
    createdDateTimeUtc: '2016-08-15T00:00:00Z',
    outcome: { deviceMethodResponse: null },
  },
  {
    deviceId: 'myDeviceId',
    jobId: 'methodJob',
    jobType: 'scheduleDeviceMethod',
    status: 'failed',
    createdDateTimeUtc: '2016-09-30T00:00:00Z',
    error: { code: 'DeviceNotOnline', description: 'Timed out waiting for device to connect.' },
  },
  {
    deviceId: 'otherDevice',
    jobId: 'myJobId',
    jobType: 'scheduleUpdateTwin',
    status: 'completed',
    createdDateTimeUtc: '2016-09-29T18:18:56.7787107Z',
    outcome: { deviceMethodResponse: null },
  },
];

function run(text: string, rows: readonly object[] = twins): unknown[] {
  return runQuery(parseQuery(text), rows);
}

function ids(text: string, rows: readonly object[] = twins): string[] {
  return run(text, rows).map((r) => (r as { deviceId: string }).deviceId);
}

describe('documented twin queries (query-twins.md)', () => {
  it('SELECT * FROM devices returns every twin object itself, in order', () => {
    const result = run('SELECT * FROM devices');
    expect(result).toHaveLength(twins.length);
    result.forEach((row, i) => {
      expect(row).toBe(twins[i]);
    });
  });

  it('filters on a tag', () => {
    expect(ids("SELECT * FROM devices WHERE tags.location.region = 'US'")).toEqual(['AZ3166Device', 'building43-a']);
  });

  it('combines a tag and a reported property with AND and >=', () => {
    expect(
      ids(`SELECT * FROM devices
      WHERE tags.location.region = 'US'
        AND properties.reported.telemetryConfig.sendFrequencyInSecs >= 60`),
    ).toEqual(['AZ3166Device']);
  });

  it('IN and NIN take array constants; an object value is in neither', () => {
    expect(ids("SELECT * FROM devices WHERE properties.reported.connectivity IN ['wired', 'wifi']")).toEqual(['AZ3166Device', 'building43-a']);
    expect(ids("SELECT * FROM devices WHERE properties.reported.connectivity NIN ['wired']")).toEqual(['AZ3166Device']);
    expect(ids("SELECT * FROM devices WHERE properties.reported.connectivity NOT IN ['wired']")).toEqual(['AZ3166Device']);
  });

  it('is_defined() finds twins that have a property, whatever its value', () => {
    expect(ids('SELECT * FROM devices WHERE is_defined(properties.reported.connectivity)')).toEqual(['AZ3166Device', 'building43-a', 'building43-b']);
    // "including null"
    expect(ids('SELECT * FROM devices WHERE IS_DEFINED(properties.reported.temperature)')).toEqual(['test-device-1', 'test-device-2', 'edge-1']);
  });

  it('counts all devices with an alias', () => {
    expect(run('SELECT COUNT() as totalNumberOfDevices FROM devices')).toEqual([{ totalNumberOfDevices: 7 }]);
  });

  it('groups and counts by telemetry status, exactly as documented', () => {
    const q = `SELECT properties.reported.telemetryConfig.status AS status,
        COUNT() AS numberOfDevices
      FROM devices
      WHERE IS_DEFINED(properties.reported.telemetryConfig.status)
      GROUP BY properties.reported.telemetryConfig.status`;
    expect(run(q)).toEqual([
      { status: 'Success', numberOfDevices: 3 },
      { status: 'Pending', numberOfDevices: 2 },
      { status: 'Error', numberOfDevices: 1 },
    ]);
    expect(parseQuery(q).itemType).toBe('Raw');
  });

  it('twins lacking the grouped property form their own group, without the property', () => {
    expect(
      run(`SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices
      FROM devices GROUP BY properties.reported.telemetryConfig.status`),
    ).toEqual([
      { status: 'Success', numberOfDevices: 3 },
      { status: 'Pending', numberOfDevices: 2 },
      { status: 'Error', numberOfDevices: 1 },
      { numberOfDevices: 1 },
    ]);
  });

  it("projects with the twin's own key casing and omits missing properties", () => {
    expect(run("SELECT DeviceId, LastActivityTime FROM devices WHERE status = 'enabled' AND connectionState = 'Disconnected'")).toEqual([
      { deviceId: 'AZ3166Device', lastActivityTime: '2021-05-07T00:50:38.0543092Z' },
      { deviceId: 'test-device-1' },
      { deviceId: 'bare', lastActivityTime: '0001-01-01T00:00:00Z' },
    ]);
  });
});

describe('documented module and job queries', () => {
  it('queries module twins by reported status and deviceId', () => {
    expect(run("SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning'", modules)).toEqual([modules[0], modules[2]]);
    expect(
      run(
        `SELECT * FROM devices.modules
      WHERE properties.reported.status = 'scanning'
      AND deviceId IN ['device1', 'device2']`,
        modules,
      ),
    ).toEqual([modules[0]]);
    expect(run("SELECT * FROM devices.modules WHERE moduleId in ['$edgeAgent'] and deviceId in ['device1']", modules)).toEqual([modules[3]]);
  });

  it('filters device jobs by devices.jobs.<field> or the bare field', () => {
    const viaPrefix = run("SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'myJobId'", deviceJobs);
    expect(viaPrefix).toEqual([deviceJobs[0], deviceJobs[3]]);
    expect(viaPrefix[0]).toBe(deviceJobs[0]);
    expect(run("SELECT * FROM devices.jobs WHERE jobId = 'myJobId'", deviceJobs)).toEqual([deviceJobs[0], deviceJobs[3]]);
    expect(run("SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId'", deviceJobs)).toEqual([deviceJobs[0], deviceJobs[1], deviceJobs[2]]);
  });

  it('runs the documented multi-condition job query, including its createdTimeUtc spelling', () => {
    const q = `SELECT * FROM devices.jobs
      WHERE devices.jobs.deviceId = 'myDeviceId'
        AND devices.jobs.jobType = 'scheduleUpdateTwin'
        AND devices.jobs.status = 'completed'
        AND devices.jobs.createdTimeUtc > '2016-09-01'`;
    expect(run(q, deviceJobs)).toEqual([deviceJobs[0]]);
    expect(run(q.replace('createdTimeUtc', 'createdDateTimeUtc'), deviceJobs)).toEqual([deviceJobs[0]]);
  });

  it('compares job status values case-sensitively', () => {
    expect(run("SELECT * FROM devices.jobs WHERE devices.jobs.status = 'Completed'", deviceJobs)).toEqual([]);
  });
});

describe('job queryCondition', () => {
  it("'*' selects every device", () => {
    expect(runQuery(parseJobCondition('*'), twins)).toHaveLength(7);
  });

  it('deviceId IN [...] and tags conditions', () => {
    expect(runQuery(parseJobCondition("deviceId IN ['edge-1', 'bare', 'nope']"), twins).map((t) => (t as { deviceId: string }).deviceId)).toEqual([
      'edge-1',
      'bare',
    ]);
    expect(runQuery(parseJobCondition("deviceId = 'bare'"), twins)).toEqual([twins[6]]);
    // `Building` exactly on one twin, `building` on the other: names match case-insensitively.
    expect(runQuery(parseJobCondition("tags.Building = '43'"), twins)).toEqual([twins[1], twins[2]]);
  });

  it('a condition starting with FROM picks its collection', () => {
    expect(runQuery(parseJobCondition("FROM devices.modules WHERE ModuleId = '$edgeAgent'"), modules)).toEqual([modules[3]]);
  });
});

describe('names are case-insensitive, values are not', () => {
  it('keywords and function names in any case', () => {
    expect(ids("select * from DEVICES where deviceId In ['bare'] Or Is_Defined(tags.location.plant)")).toEqual(['AZ3166Device', 'bare']);
    expect(run('Select Count() As N From Devices')).toEqual([{ N: 7 }]);
  });

  it("property names in any case find the twin's key", () => {
    expect(ids("SELECT * FROM devices WHERE Tags.Location.Region = 'US'")).toEqual(['AZ3166Device', 'building43-a']);
    expect(ids("SELECT * FROM devices WHERE PROPERTIES.REPORTED.TELEMETRYCONFIG.STATUS = 'Error'")).toEqual(['edge-1']);
    expect(ids("SELECT * FROM devices WHERE DEVICEID = 'bare'")).toEqual(['bare']);
  });

  it('an exact key wins over a differently-cased one', () => {
    const row = { deviceId: 'x', tags: { Mode: 'upper', mode: 'lower' } };
    expect(run("SELECT * FROM devices WHERE tags.mode = 'lower'", [row])).toEqual([row]);
    expect(run("SELECT * FROM devices WHERE tags.Mode = 'upper'", [row])).toEqual([row]);
  });

  it('string values compare case-sensitively', () => {
    expect(ids("SELECT * FROM devices WHERE tags.location.region = 'us'")).toEqual(['test-device-2']);
    expect(ids("SELECT * FROM devices WHERE status = 'Enabled'")).toEqual([]);
    expect(ids("SELECT * FROM devices WHERE deviceId = 'BARE'")).toEqual([]);
  });

  it('[[reserved]] names reach properties called like keywords', () => {
    expect(ids("SELECT * FROM devices WHERE tags.[[group]].name = 'g1'")).toEqual(['building43-b']);
    expect(ids("SELECT * FROM devices WHERE tags.[[GROUP]].[[name]] = 'g1'")).toEqual(['building43-b']);
  });
});

describe('conditions and operators', () => {
  it('NOT of a missing property stays undefined, so it does not match', () => {
    expect(ids("SELECT * FROM devices WHERE NOT (tags.location.region = 'US')")).toEqual(['test-device-1', 'test-device-2']);
    expect(ids("SELECT * FROM devices WHERE NOT tags.location.region = 'US'")).toEqual(['test-device-1', 'test-device-2']);
  });

  it('compares only primitives of the same type', () => {
    expect(ids("SELECT * FROM devices WHERE properties.reported.temperature > '20'")).toEqual([]);
    expect(ids('SELECT * FROM devices WHERE properties.reported.temperature > 20')).toEqual(['test-device-1', 'test-device-2']);
    expect(ids('SELECT * FROM devices WHERE properties.reported.temperature != 25')).toEqual(['test-device-1']);
    expect(ids('SELECT * FROM devices WHERE properties.reported.temperature = null')).toEqual(['edge-1']);
    expect(ids("SELECT * FROM devices WHERE properties.reported.connectivity = 'cellular'")).toEqual([]);
    expect(ids('SELECT * FROM devices WHERE properties.desired = properties.reported')).toEqual([]);
    expect(ids('SELECT * FROM devices WHERE tags.nothing = undefined')).toEqual([]);
  });

  it('compares two properties of the same row', () => {
    expect(
      ids('SELECT * FROM devices WHERE properties.desired.telemetryConfig.sendFrequencyInSecs = properties.reported.telemetryConfig.sendFrequencyInSecs'),
    ).toEqual(['AZ3166Device']);
  });

  it('only boolean true passes a condition', () => {
    expect(ids('SELECT * FROM devices WHERE tags.location.region')).toEqual([]);
    expect(ids('SELECT * FROM devices WHERE capabilities.iotEdge')).toEqual(['test-device-2', 'edge-1']);
    expect(ids('SELECT * FROM devices WHERE capabilities.iotEdge = true')).toEqual(['test-device-2', 'edge-1']);
    expect(ids('SELECT * FROM devices WHERE capabilities.iotEdge <> false')).toEqual(['test-device-2', 'edge-1']);
    expect(ids('SELECT * FROM devices WHERE true')).toHaveLength(7);
    expect(ids('SELECT * FROM devices WHERE 1')).toEqual([]);
    expect(ids("SELECT * FROM devices WHERE 'true'")).toEqual([]);
  });

  it('OR, AND and parentheses with three-valued logic', () => {
    expect(ids("SELECT * FROM devices WHERE (tags.location.region = 'EU' OR capabilities.iotEdge = true) AND status = 'enabled'")).toEqual([
      'test-device-1',
      'test-device-2',
      'edge-1',
    ]);
    // undefined OR true is true; undefined AND false is false, so NOT of it is true.
    expect(ids("SELECT * FROM devices WHERE NOT (tags.location.region = 'US' AND deviceId = 'nope')")).toHaveLength(7);
    expect(ids("SELECT * FROM devices WHERE NOT (tags.location.region = 'EU' OR deviceId = 'nope')")).toEqual([
      'AZ3166Device',
      'building43-a',
      'test-device-2',
    ]);
  });

  it('arithmetic on numbers, hex and float literals, unary minus', () => {
    expect(ids('SELECT * FROM devices WHERE properties.reported.telemetryConfig.sendFrequencyInSecs / 60 >= 5')).toEqual(['AZ3166Device']);
    expect(ids('SELECT * FROM devices WHERE properties.reported.telemetryConfig.sendFrequencyInSecs % 60 = 30')).toEqual(['building43-a']);
    expect(ids('SELECT * FROM devices WHERE properties.reported.telemetryConfig.sendFrequencyInSecs = 0x12C')).toEqual(['AZ3166Device']);
    expect(ids('SELECT * FROM devices WHERE -properties.reported.temperature < -2.15e1')).toEqual(['test-device-2']);
    expect(ids('SELECT * FROM devices WHERE properties.reported.temperature * 2 + 1 = 44')).toEqual(['test-device-1']);
    expect(ids("SELECT * FROM devices WHERE 2 + 3 * 4 = 14 AND deviceId = 'bare'")).toEqual(['bare']);
    expect(ids('SELECT * FROM devices WHERE properties.reported.temperature / 0 = 0')).toEqual([]);
    expect(ids('SELECT * FROM devices WHERE deviceId + 1 = 1')).toEqual([]);
  });

  it('string escapes and both quote styles', () => {
    expect(ids("SELECT * FROM devices WHERE tags.note = 'it\\'s'")).toEqual(['AZ3166Device']);
    expect(ids('SELECT * FROM devices WHERE tags.note = "it\'s"')).toEqual(['AZ3166Device']);
    expect(ids("SELECT * FROM devices WHERE tags.note = '\\u0069t\\u0027s'")).toEqual(['AZ3166Device']);
    const row = { deviceId: 'q', tags: { path: 'a\\b"c' } };
    expect(run('SELECT * FROM devices WHERE tags.path = "a\\\\b\\"c"', [row])).toEqual([row]);
  });

  it('dates are ISO strings compared as strings', () => {
    expect(ids("SELECT * FROM devices WHERE lastActivityTime > '2024-01-15'")).toEqual(['test-device-2', 'edge-1']);
  });

  it('STARTSWITH, ENDSWITH and the type checks', () => {
    expect(ids("SELECT * FROM devices WHERE STARTSWITH(deviceId, 'test')")).toEqual(['test-device-1', 'test-device-2']);
    expect(ids("SELECT * FROM devices WHERE endswith(deviceId, '-b')")).toEqual(['building43-b']);
    expect(ids("SELECT * FROM devices WHERE STARTSWITH(properties.reported.temperature, '2')")).toEqual([]);
    expect(ids('SELECT * FROM devices WHERE IS_OBJECT(properties.reported.connectivity)')).toEqual(['building43-b']);
    expect(ids('SELECT * FROM devices WHERE IS_STRING(properties.reported.connectivity)')).toEqual(['AZ3166Device', 'building43-a']);
    expect(ids('SELECT * FROM devices WHERE IS_NULL(properties.reported.temperature)')).toEqual(['edge-1']);
    expect(ids('SELECT * FROM devices WHERE IS_NUMBER(properties.reported.temperature)')).toEqual(['test-device-1', 'test-device-2']);
    expect(ids('SELECT * FROM devices WHERE IS_BOOL(capabilities.iotEdge) AND NOT capabilities.iotEdge')).toHaveLength(5);
    expect(ids('SELECT * FROM devices WHERE IS_ARRAY(tags.list)')).toEqual(['test-device-1']);
    expect(ids('SELECT * FROM devices WHERE IS_PRIMITIVE(properties.reported.temperature)')).toEqual(['test-device-1', 'test-device-2', 'edge-1']);
    expect(ids('SELECT * FROM devices WHERE NOT IS_DEFINED(tags)')).toEqual(['bare']);
  });

  it('does not reach into arrays or the object prototype', () => {
    expect(ids('SELECT * FROM devices WHERE tags.list.length = 2')).toEqual([]);
    expect(ids('SELECT * FROM devices WHERE IS_DEFINED(tags.constructor)')).toEqual([]);
    expect(ids('SELECT * FROM devices WHERE IS_DEFINED(tags.[[__proto__]])')).toEqual([]);
    const row = { deviceId: 'p', tags: { Constructor: 'mine' } };
    expect(run("SELECT * FROM devices WHERE tags.constructor = 'mine'", [row])).toEqual([row]);
  });
});

describe('projections', () => {
  it('names a dotted path by its last segment', () => {
    expect(run('SELECT deviceId, properties.reported.temperature FROM devices WHERE IS_DEFINED(properties.reported.temperature)')).toEqual([
      { deviceId: 'test-device-1', temperature: 21.5 },
      { deviceId: 'test-device-2', temperature: 25 },
      { deviceId: 'edge-1', temperature: null },
    ]);
  });

  it('uses aliases as written and keeps select-list order', () => {
    const result = run("SELECT Properties.Reported.Temperature AS Temp, deviceId AS id FROM devices WHERE deviceId = 'test-device-2'");
    expect(result).toEqual([{ Temp: 25, id: 'test-device-2' }]);
    expect(Object.keys(result[0] as object)).toEqual(['Temp', 'id']);
  });

  it('projects whole objects and yields {} for a row with none of the properties', () => {
    expect(run("SELECT tags.location FROM devices WHERE deviceId IN ['AZ3166Device', 'bare']")).toEqual([
      { location: { region: 'US', plant: 'Redmond43' } },
      {},
    ]);
  });

  it('projects a [[reserved]] name', () => {
    expect(run("SELECT tags.[[group]] FROM devices WHERE deviceId = 'building43-b'")).toEqual([{ group: { name: 'g1' } }]);
  });
});

describe('aggregates', () => {
  it('names unaliased aggregates $1, $2, …', () => {
    expect(run('SELECT COUNT() FROM devices')).toEqual([{ $1: 7 }]);
    expect(run('SELECT COUNT(), MAX(lastActivityTime) AS latest, MIN(deviceId) FROM devices')).toEqual([
      { $1: 7, latest: '2024-03-01T10:00:00Z', $2: 'AZ3166Device' },
    ]);
  });

  it('SUM and AVG use numbers only, MIN and MAX skip null', () => {
    expect(
      run(`SELECT SUM(properties.reported.temperature) AS s, AVG(properties.reported.temperature) AS a,
        MIN(properties.reported.temperature) AS lo, MAX(properties.reported.temperature) AS hi FROM devices`),
    ).toEqual([{ s: 46.5, a: 23.25, lo: 21.5, hi: 25 }]);
  });

  it('aggregates over no rows: COUNT 0 and SUM 0, the others absent', () => {
    expect(
      run(`SELECT COUNT() AS n, SUM(properties.reported.temperature) AS s, AVG(properties.reported.temperature) AS a,
        MIN(deviceId) AS lo FROM devices WHERE deviceId = 'nope'`),
    ).toEqual([{ n: 0, s: 0 }]);
    expect(run('SELECT COUNT() AS n FROM devices GROUP BY tags.x', [])).toEqual([]);
  });

  it('counts with a WHERE', () => {
    expect(run("SELECT COUNT() AS connected FROM devices WHERE connectionState = 'Connected'")).toEqual([{ connected: 3 }]);
  });

  it('GROUP BY with several aggregates, an unaliased group key and TOP', () => {
    expect(
      run(`SELECT capabilities.iotEdge, COUNT() AS n, AVG(properties.reported.temperature) AS t
      FROM devices GROUP BY capabilities.iotEdge`),
    ).toEqual([
      { iotEdge: false, n: 5, t: 21.5 },
      { iotEdge: true, n: 2, t: 25 },
    ]);
    expect(run('SELECT TOP 1 status, COUNT() AS n FROM devices GROUP BY status')).toEqual([{ status: 'enabled', n: 6 }]);
  });

  it('GROUP BY without aggregates lists distinct values; GROUP BY on an object value', () => {
    expect(run('SELECT connectionState FROM devices GROUP BY connectionState')).toEqual([
      { connectionState: 'Disconnected' },
      { connectionState: 'Connected' },
    ]);
    expect(run('SELECT tags.location AS loc, COUNT() AS n FROM devices WHERE IS_DEFINED(tags.location) GROUP BY tags.location')).toEqual([
      { loc: { region: 'US', plant: 'Redmond43' }, n: 1 },
      { loc: { region: 'US' }, n: 1 },
      { loc: { region: 'EU' }, n: 1 },
      { loc: { region: 'us' }, n: 1 },
    ]);
  });

  it('groups string and number values apart', () => {
    const rows = [
      { deviceId: 'a', tags: { v: 1 } },
      { deviceId: 'b', tags: { v: '1' } },
      { deviceId: 'c', tags: { v: 1 } },
    ];
    expect(run('SELECT tags.v, COUNT() AS n FROM devices GROUP BY tags.v', rows)).toEqual([
      { v: 1, n: 2 },
      { v: '1', n: 1 },
    ]);
  });
});

describe('TOP', () => {
  it('limits SELECT * and projections, keeping row order', () => {
    expect(ids('SELECT TOP 2 * FROM devices')).toEqual(['AZ3166Device', 'building43-a']);
    expect(run("SELECT TOP 1 deviceId FROM devices WHERE status = 'enabled'")).toEqual([{ deviceId: 'AZ3166Device' }]);
    expect(run('SELECT TOP 0 * FROM devices')).toEqual([]);
    expect(run('SELECT TOP 0 COUNT() FROM devices')).toEqual([]);
    expect(ids('SELECT TOP 100 * FROM devices')).toHaveLength(7);
  });
});

describe('the Query value', () => {
  it('matches() is the compiled WHERE, usable per row', () => {
    const q = parseQuery("SELECT * FROM devices WHERE tags.location.region = 'US'");
    expect(twins.filter((t) => q.matches(t)).map((t) => t.deviceId)).toEqual(['AZ3166Device', 'building43-a']);
    expect(parseQuery('SELECT * FROM devices').matches({})).toBe(true);
    expect(q.matches({})).toBe(false);
  });

  it('runQuery accepts a copy of a Query (e.g. after spreading it)', () => {
    const q: Query = { ...parseQuery("SELECT deviceId FROM devices WHERE deviceId = 'bare'") };
    expect(runQuery(q, twins)).toEqual([{ deviceId: 'bare' }]);
  });

  it('takes any iterable of rows', () => {
    function* gen(): Generator<object> {
      yield* twins;
    }
    expect(runQuery(parseQuery("SELECT COUNT() AS n FROM devices WHERE status = 'enabled'"), gen())).toEqual([{ n: 6 }]);
  });
});
