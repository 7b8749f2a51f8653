import { describe, expect, it } from 'vitest';
import { QueryError, parseJobCondition, parseQuery } from '../../emulator/query/index.js';

function errorOf(f: () => unknown): QueryError {
  try {
    f();
  } catch (e) {
    if (e instanceof QueryError) return e;
    throw new Error(`expected a QueryError, got ${String(e)}`);
  }
  throw new Error('expected a QueryError, nothing was thrown');
}

function queryError(text: string): { position: number; message: string } {
  const e = errorOf(() => parseQuery(text));
  return { position: e.position, message: e.message };
}

describe('parseQuery: the statement', () => {
  it('reads collection, item type and TOP', () => {
    const q = parseQuery('SELECT * FROM devices');
    expect(q).toMatchObject({ text: 'SELECT * FROM devices', source: 'devices', itemType: 'Twin' });
    expect(q.top).toBeUndefined();
    expect(q.deviceIds).toBeUndefined();
    expect(parseQuery('SELECT TOP 10 * FROM devices.modules')).toMatchObject({ source: 'devices.modules', itemType: 'Twin', top: 10 });
    expect(parseQuery("SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'myJobId'")).toMatchObject({ source: 'devices.jobs', itemType: 'DeviceJob' });
    expect(parseQuery('SELECT deviceId FROM devices').itemType).toBe('Raw');
    expect(parseQuery('SELECT COUNT() AS n FROM devices').itemType).toBe('Raw');
    expect(parseQuery('SELECT TOP 0x10 * FROM devices').top).toBe(16);
  });

  it('accepts keywords in any case and any whitespace', () => {
    const q = parseQuery("select\ttop 3 *\n  from Devices.Jobs\r\n  where DEVICES.JOBS.status = 'completed'");
    expect(q).toMatchObject({ source: 'devices.jobs', top: 3, itemType: 'DeviceJob' });
    expect(parseQuery('SeLeCt * FrOm DeViCeS.MoDuLeS').source).toBe('devices.modules');
  });

  it('parses the documented examples', () => {
    const examples = [
      'SELECT * FROM devices',
      "SELECT * FROM devices WHERE tags.location.region = 'US'",
      "SELECT * FROM devices WHERE tags.location.region = 'US' AND properties.reported.telemetryConfig.sendFrequencyInSecs >= 60",
      "SELECT * FROM devices WHERE properties.reported.connectivity IN ['wired', 'wifi']",
      'SELECT * FROM devices WHERE is_defined(properties.reported.connectivity)',
      'SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices FROM devices GROUP BY properties.reported.telemetryConfig.status',
      "SELECT DeviceId, LastActivityTime FROM devices WHERE status = 'enabled' AND connectionState = 'Disconnected'",
      'SELECT COUNT() as totalNumberOfDevices FROM devices',
      "SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning' AND deviceId IN ['device1', 'device2']",
      "SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId'",
      "SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId' AND devices.jobs.jobType = 'scheduleUpdateTwin' AND devices.jobs.status = 'completed' AND devices.jobs.createdTimeUtc > '2016-09-01'",
      "SELECT * FROM devices WHERE STARTSWITH(deviceId, 'test')",
      "SELECT * FROM devices WHERE tags.[[group]].name = 'x'",
      'SELECT * FROM devices WHERE properties.desired.$version > 3',
      'SELECT * FROM devices WHERE tags.2ndFloor = true',
    ];
    for (const text of examples) expect(() => parseQuery(text), text).not.toThrow();
  });
});

describe('deviceIds hint', () => {
  it('comes from deviceId = … and deviceId IN […] in the top-level conjunction', () => {
    expect(parseQuery("SELECT * FROM devices WHERE deviceId = 'a'").deviceIds).toEqual(['a']);
    expect(parseQuery("SELECT * FROM devices WHERE 'a' = DeviceId AND status = 'enabled'").deviceIds).toEqual(['a']);
    expect(parseQuery("SELECT * FROM devices WHERE status = 'enabled' AND deviceId IN ['a', 'b', 'a']").deviceIds).toEqual(['a', 'b']);
    expect(parseQuery("SELECT * FROM devices WHERE (deviceId IN ['a', 'b', 'c'] AND x = 1) AND deviceId IN ['c', 'b']").deviceIds).toEqual(['b', 'c']);
    expect(parseQuery("SELECT * FROM devices WHERE deviceId = 'a' AND deviceId = 'b'").deviceIds).toEqual([]);
    expect(parseQuery("SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'd1'").deviceIds).toEqual(['d1']);
    expect(parseQuery("SELECT * FROM devices.modules WHERE moduleId = 'm' AND deviceId IN ['d1', 'd2']").deviceIds).toEqual(['d1', 'd2']);
    expect(parseJobCondition("deviceId IN ['MyDevice1', 'MyDevice2']").deviceIds).toEqual(['MyDevice1', 'MyDevice2']);
  });

  it('is absent when the WHERE does not pin deviceId', () => {
    for (const text of [
      'SELECT * FROM devices',
      "SELECT * FROM devices WHERE deviceId = 'a' OR deviceId = 'b'",
      "SELECT * FROM devices WHERE deviceId NIN ['a']",
      "SELECT * FROM devices WHERE NOT deviceId = 'a'",
      "SELECT * FROM devices WHERE deviceId != 'a'",
      "SELECT * FROM devices WHERE tags.deviceId = 'a'",
      "SELECT * FROM devices WHERE STARTSWITH(deviceId, 'a')",
    ]) {
      expect(parseQuery(text).deviceIds, text).toBeUndefined();
    }
  });
});

describe('termsExact: the index terms say exactly what the WHERE does (a job selects without reading twins)', () => {
  it.each([
    "STARTSWITH(deviceId, 'scale-09')",
    "deviceId = 'a' OR deviceId IN ['b', 'c']",
    "tags.building = '42' AND tags.floor = 7",
    "tags.n >= 2 AND tags.n < 5 AND properties.desired.mode = 'day'",
    'tags.flag',
    "status = 'enabled' AND (tags.a = 1 OR tags.b = true)",
  ])('exact: %s', (condition) => {
    expect(parseJobCondition(condition).termsExact).toBe(true);
  });

  it.each([
    "tags.env = 'prod' AND NOT (tags.n = 1)",
    "tags.env != 'prod'",
    "tags.env NIN ['prod']",
    "tags.env = 'prod' AND IS_DEFINED(tags.n)",
    "tags.env = 'prod' AND 1 = 1",
    'tags.a = tags.b',
    "ENDSWITH(deviceId, 'x')",
    "tags.env = 'prod' OR NOT (tags.n = 1)",
  ])('a superset only: %s', (condition) => {
    expect(parseJobCondition(condition).termsExact).toBeUndefined();
  });

  it('no WHERE selects every row', () => {
    expect(parseJobCondition('*').everyRow).toBe(true);
    expect(parseJobCondition("deviceId = 'a'").everyRow).toBeUndefined();
  });
});

describe('parseJobCondition (docs/protocol.md §4.6)', () => {
  it("'*' means all devices", () => {
    const q = parseJobCondition('*');
    expect(q).toMatchObject({ source: 'devices', itemType: 'Twin', text: 'SELECT * FROM devices' });
    expect(q.matches({ deviceId: 'anything' })).toBe(true);
    expect(parseJobCondition('  *  ').source).toBe('devices');
  });

  it('wraps a bare condition in SELECT * FROM devices WHERE', () => {
    const q = parseJobCondition("tags.Building = '43'");
    expect(q.text).toBe("SELECT * FROM devices WHERE tags.Building = '43'");
    expect(q.matches({ deviceId: 'x', tags: { building: '43' } })).toBe(true);
    expect(q.matches({ deviceId: 'x', tags: { building: 43 } })).toBe(false);
    expect(parseJobCondition("deviceId = 'MyDevice1'").deviceIds).toEqual(['MyDevice1']);
  });

  it('reads a condition starting with FROM as SELECT * <condition>', () => {
    const q = parseJobCondition("FROM devices.modules WHERE ModuleId = 'X'");
    expect(q).toMatchObject({ source: 'devices.modules', text: "SELECT * FROM devices.modules WHERE ModuleId = 'X'" });
    expect(parseJobCondition('from devices').source).toBe('devices');
    // A property that merely starts with "from" is a condition.
    expect(parseJobCondition("fromAddress = 'x'").text).toBe("SELECT * FROM devices WHERE fromAddress = 'x'");
  });

  it('reports errors at positions in the condition itself', () => {
    expect(errorOf(() => parseJobCondition("tags.x = = 'a'"))).toMatchObject({
      position: 9,
      message: "Syntax error at position 9 near '=': expected an expression",
    });
    expect(errorOf(() => parseJobCondition("deviceId IN ['a', 'b'"))).toMatchObject({
      position: 21,
      message: "Syntax error at position 21 (end of query): expected ',' or ']'",
    });
    expect(errorOf(() => parseJobCondition(''))).toMatchObject({
      position: 0,
      message: 'Syntax error at position 0 (end of query): expected an expression',
    });
    expect(errorOf(() => parseJobCondition('FROM devices WHER x = 1'))).toMatchObject({
      position: 13,
      message: "Syntax error at position 13 near 'WHER': expected WHERE, GROUP BY or end of query",
    });
    expect(errorOf(() => parseJobCondition("contains(deviceId, 'a')"))).toMatchObject({ position: 0 });
  });

  it('rejects device-job collections as a job target', () => {
    expect(errorOf(() => parseJobCondition("FROM devices.jobs WHERE jobId = 'x'"))).toMatchObject({
      position: 5,
      message: 'Invalid query at position 5: a job can only target devices or devices.modules',
    });
  });
});

describe('errors: syntax', () => {
  it('a misspelt clause keyword', () => {
    expect(queryError("SELECT * FROM devices WHER tags.x = 'a'")).toEqual({
      position: 22,
      message: "Syntax error at position 22 near 'WHER': expected WHERE, GROUP BY or end of query",
    });
    expect(queryError("SELECT * FROM devices WHERE tags.x = 'a' GROUPBY tags.x")).toEqual({
      position: 41,
      message: "Syntax error at position 41 near 'GROUPBY': expected AND, OR, GROUP BY or end of query",
    });
  });

  it('missing FROM', () => {
    expect(queryError("SELECT * WHERE deviceId = 'a'")).toEqual({
      position: 9,
      message: "Syntax error at position 9 near 'WHERE': expected FROM",
    });
    expect(queryError('SELECT deviceId')).toEqual({
      position: 15,
      message: "Syntax error at position 15 (end of query): expected AS, ',' or FROM",
    });
    expect(queryError('SELECT deviceId AS id devices')).toEqual({
      position: 22,
      message: "Syntax error at position 22 near 'devices': expected ',' or FROM",
    });
  });

  it('missing or unknown collection', () => {
    expect(queryError('SELECT * FROM twins')).toEqual({
      position: 14,
      message: "Syntax error at position 14 near 'twins': expected devices, devices.modules or devices.jobs",
    });
    expect(queryError('SELECT * FROM devices.configurations')).toEqual({
      position: 22,
      message: "Syntax error at position 22 near 'configurations': expected modules or jobs after devices.",
    });
    expect(queryError('SELECT * FROM')).toMatchObject({ position: 13 });
  });

  it('empty query and missing SELECT', () => {
    expect(queryError('')).toEqual({ position: 0, message: 'Syntax error at position 0 (end of query): expected SELECT' });
    expect(queryError('  FROM devices')).toEqual({ position: 2, message: "Syntax error at position 2 near 'FROM': expected SELECT" });
    expect(queryError('SELECT FROM devices')).toEqual({
      position: 7,
      message:
        "Syntax error at position 7 near 'FROM': expected '*', a property path or an aggregate ('FROM' is a reserved word; write [[FROM]] for a property of that name)",
    });
  });

  it('a character that is not part of the language', () => {
    expect(queryError("SELECT * FROM devices WHERE deviceId = 'a' # x")).toEqual({
      position: 43,
      message: "Syntax error at position 43 near '#': unexpected character",
    });
    expect(queryError("SELECT * FROM devices WHERE deviceId == 'a'")).toEqual({
      position: 38,
      message: "Syntax error at position 38 near '=': expected an expression",
    });
    expect(queryError('SELECT * FROM devices WHERE a = 1 && b = 2')).toMatchObject({ position: 34 });
  });

  it('an unterminated string points at its opening quote', () => {
    expect(queryError("SELECT * FROM devices WHERE deviceId = 'abc")).toEqual({
      position: 39,
      message: "Syntax error at position 39: unterminated string literal (missing closing ')",
    });
    expect(queryError('SELECT * FROM devices WHERE deviceId = "abc\\"')).toMatchObject({ position: 39 });
  });

  it('bad escapes and numbers', () => {
    expect(queryError("SELECT * FROM devices WHERE deviceId = 'a\\qb'")).toEqual({
      position: 41,
      message: "Syntax error at position 41 near '\\q': invalid escape sequence (allowed: \\' \\\" \\\\ \\uXXXX)",
    });
    expect(queryError("SELECT * FROM devices WHERE deviceId = '\\u12'")).toMatchObject({ position: 40 });
    expect(queryError('SELECT * FROM devices WHERE x = 12abc')).toEqual({
      position: 32,
      message: "Syntax error at position 32 near '12abc': invalid number",
    });
    expect(queryError('SELECT * FROM devices WHERE x = 0x')).toMatchObject({ position: 32 });
  });

  it('TOP needs a non-negative integer', () => {
    expect(queryError('SELECT TOP -1 * FROM devices')).toEqual({
      position: 11,
      message: "Syntax error at position 11 near '-': expected a non-negative integer after TOP",
    });
    expect(queryError('SELECT TOP 1.5 * FROM devices')).toMatchObject({ position: 11 });
    expect(queryError('SELECT TOP * FROM devices')).toMatchObject({ position: 11 });
  });

  it('reserved words need [[…]] as property names', () => {
    expect(queryError("SELECT * FROM devices WHERE tags.group.name = 'x'")).toEqual({
      position: 33,
      message: "Syntax error at position 33 near 'group': 'group' is a reserved word; write [[group]] to use it as a property name",
    });
    expect(queryError('SELECT * FROM devices WHERE tags.[[group = 1')).toEqual({
      position: 33,
      message: "Syntax error at position 33 near '[[group = 1': unterminated escaped name (missing closing ']]')",
    });
  });

  it('IN needs an array constant of constants', () => {
    expect(queryError("SELECT * FROM devices WHERE deviceId IN ('a', 'b')")).toEqual({
      position: 40,
      message: "Syntax error at position 40 near '(': expected an array constant such as ['a', 'b'] after IN",
    });
    expect(queryError('SELECT * FROM devices WHERE deviceId IN [tags.x]')).toEqual({
      position: 41,
      message: 'Invalid query at position 41: array elements must be constants',
    });
  });

  it('unbalanced parentheses', () => {
    expect(queryError("SELECT * FROM devices WHERE (deviceId = 'a'")).toEqual({
      position: 43,
      message: "Syntax error at position 43 (end of query): expected ')' or an operator",
    });
    expect(queryError("SELECT * FROM devices WHERE deviceId = 'a')")).toMatchObject({ position: 42 });
  });
});

describe('errors: functions', () => {
  it('an unknown function is named', () => {
    expect(queryError("SELECT * FROM devices WHERE CONTAINS(deviceId, 'a')")).toEqual({
      position: 28,
      message:
        "Unknown function 'CONTAINS' at position 28: supported functions are IS_DEFINED, STARTSWITH, ENDSWITH, IS_ARRAY, IS_BOOL, IS_NULL, IS_NUMBER, IS_OBJECT, IS_PRIMITIVE, IS_STRING",
    });
    expect(queryError("SELECT * FROM devices WHERE starts_with(deviceId, 'a')").message).toMatch(/^Unknown function 'starts_with' at position 28: /);
    expect(queryError('SELECT LOWER(deviceId) FROM devices').message).toMatch(/^Unknown function 'LOWER' at position 7: /);
  });

  it('wrong number of arguments', () => {
    expect(queryError('SELECT * FROM devices WHERE STARTSWITH(deviceId)')).toEqual({
      position: 28,
      message: "Invalid query at position 28 near 'STARTSWITH': STARTSWITH takes 2 arguments, got 1",
    });
    expect(queryError('SELECT * FROM devices WHERE IS_DEFINED()')).toMatchObject({ position: 28 });
  });

  it('aggregates only in the SELECT list, functions not in it', () => {
    expect(queryError('SELECT * FROM devices WHERE COUNT() > 1')).toEqual({
      position: 28,
      message: "Invalid query at position 28 near 'COUNT': aggregate COUNT() is only allowed in the SELECT list",
    });
    expect(queryError('SELECT IS_DEFINED(tags) FROM devices')).toEqual({
      position: 7,
      message:
        "Invalid query at position 7 near 'IS_DEFINED': functions are not allowed in the SELECT list; expected a property path or COUNT, SUM, AVG, MIN, MAX",
    });
    expect(queryError('SELECT COUNT(deviceId) FROM devices')).toEqual({
      position: 13,
      message: "Syntax error at position 13 near 'deviceId': expected ')' (COUNT() takes no argument)",
    });
    expect(queryError('SELECT SUM() FROM devices')).toMatchObject({ position: 11 });
  });
});

describe('errors: what the collection and select list allow', () => {
  it('devices.jobs supports only SELECT *', () => {
    expect(queryError('SELECT COUNT() FROM devices.jobs')).toEqual({
      position: 7,
      message: "Invalid query at position 7 near 'COUNT': devices.jobs supports only SELECT * (no projections or aggregates)",
    });
    expect(queryError('SELECT devices.jobs.jobId FROM devices.jobs')).toMatchObject({ position: 7 });
    expect(queryError('SELECT * FROM devices.jobs GROUP BY devices.jobs.status')).toEqual({
      position: 27,
      message: "Invalid query at position 27 near 'GROUP': devices.jobs does not support GROUP BY",
    });
  });

  it('GROUP BY needs matching projections', () => {
    expect(queryError('SELECT * FROM devices GROUP BY status')).toMatchObject({ position: 7 });
    expect(queryError('SELECT deviceId, COUNT() FROM devices GROUP BY status')).toEqual({
      position: 7,
      message: "Invalid query at position 7 near 'deviceId': only the GROUP BY property (status) and aggregates can be selected in a GROUP BY query",
    });
    expect(queryError('SELECT deviceId, COUNT() AS n FROM devices')).toEqual({
      position: 7,
      message: "Invalid query at position 7 near 'deviceId': a property cannot be selected together with aggregates unless the query groups by it (GROUP BY)",
    });
    expect(queryError('SELECT status, COUNT() FROM devices GROUP BY')).toMatchObject({ position: 44 });
    // Case differences do not matter for the grouped property.
    expect(() => parseQuery('SELECT Status, COUNT() FROM devices GROUP BY status')).not.toThrow();
  });

  it('duplicate output names', () => {
    expect(queryError('SELECT tags.a.name, tags.b.name FROM devices')).toEqual({
      position: 20,
      message: "Invalid query at position 20 near 'tags.b.name': the SELECT list produces 'name' twice; use AS to give one of them another name",
    });
    expect(() => parseQuery('SELECT tags.a.name, tags.b.name AS bName FROM devices')).not.toThrow();
  });

  it('queries longer than 8192 characters', () => {
    const text = `SELECT * FROM devices WHERE deviceId = '${'x'.repeat(8192)}'`;
    expect(queryError(text)).toEqual({
      position: 8192,
      message: `Query too long at position 8192: queries are limited to 8192 characters, this one has ${text.length}`,
    });
    const exactly = `SELECT * FROM devices WHERE deviceId = '${'x'.repeat(8192 - 41)}'`;
    expect(exactly).toHaveLength(8192);
    expect(() => parseQuery(exactly)).not.toThrow();
  });

  it('deep nesting is refused instead of overflowing the stack', () => {
    const deep = `SELECT * FROM devices WHERE ${'('.repeat(1000)}1${')'.repeat(1000)} = 1`;
    expect(queryError(deep).message).toMatch(/^Query too complex at position \d+: expressions are nested more than 128 levels deep$/);
    const notChain = `SELECT * FROM devices WHERE ${'NOT '.repeat(2000)}true`;
    expect(queryError(notChain).message).toMatch(/^Query too complex/);
    const long = `SELECT * FROM devices WHERE x = ${Array.from({ length: 2000 }, () => '1').join(' + ')}`;
    expect(queryError(long)).toMatchObject({ position: 28 });
    // Long flat lists are fine.
    const flat = `SELECT * FROM devices WHERE ${Array.from({ length: 300 }, (_, i) => `deviceId = 'd${i}'`).join(' OR ')}`;
    expect(parseQuery(flat).matches({ deviceId: 'd299' })).toBe(true);
  });
});

describe('only QueryError escapes', () => {
  // Deterministic pseudo-random garbage built from the language's own pieces.
  function* garbage(count: number): Generator<string> {
    const pieces = [
      'SELECT',
      '*',
      'FROM',
      'devices',
      '.',
      'jobs',
      'modules',
      'WHERE',
      'GROUP',
      'BY',
      'TOP',
      '5',
      'AS',
      'x',
      ',',
      '(',
      ')',
      '[',
      ']',
      '[[',
      ']]',
      "'s",
      '"',
      '\\',
      '=',
      '<>',
      'IN',
      'NIN',
      'NOT',
      'AND',
      'OR',
      'COUNT',
      'IS_DEFINED',
      '-',
      '+',
      '0x',
      '1.5e',
      'null',
      'undefined',
      'tags',
      'constructor',
      '__proto__',
      '$',
      '\u0130',
      '#',
      ' ',
    ];
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < count; i++) {
      const len = 1 + rand(14);
      let s = rand(2) === 0 ? 'SELECT ' : '';
      for (let j = 0; j < len; j++) s += pieces[rand(pieces.length)] + (rand(3) === 0 ? '' : ' ');
      yield s;
    }
  }

  it('for 3000 malformed statements and job conditions', () => {
    let parsed = 0;
    for (const text of garbage(3000)) {
      for (const parse of [parseQuery, parseJobCondition]) {
        try {
          const q = parse(text);
          q.matches({ deviceId: 'd', tags: { x: 1 } });
          parsed++;
        } catch (e) {
          expect(e, text).toBeInstanceOf(QueryError);
          const err = e as QueryError;
          expect(err.message, text).toMatch(/ at position \d+/);
          expect(err.position, text).toBeGreaterThanOrEqual(0);
          expect(err.position, text).toBeLessThanOrEqual(text.length);
        }
      }
    }
    expect(parsed).toBeGreaterThanOrEqual(0);
  });

  it('for input that is not a string', () => {
    expect(errorOf(() => parseQuery(undefined as unknown as string)).message).toBe('Invalid query at position 0: the query must be a string');
    expect(errorOf(() => parseJobCondition(42 as unknown as string)).position).toBe(0);
  });
});
