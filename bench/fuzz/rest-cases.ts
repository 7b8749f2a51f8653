import fc from 'fast-check';

/** What a REST case needs to know about the hub it runs against. */
export interface RestContext {
  hostName: string;
  /** a valid service SAS token (iothubowner) */
  token(): string;
  /** tokens that must be refused: expired, wrong key, a policy without the right */
  badTokens(): string[];
  /** fuzz device ids (never the sentinel's) */
  deviceIds: readonly string[];
}

export interface RestCase {
  method: string;
  path: string;
  headers: [string, string][];
  body?: Buffer;
  /** how the body is framed */
  framing: 'content-length' | 'chunked' | 'none' | 'both';
}

// Every route of the service API the emulator serves, plus some it answers 404 for.
const ROUTES: readonly [string, string][] = [
  ['GET', '/devices'],
  ['POST', '/devices'],
  ['GET', '/devices/{id}'],
  ['PUT', '/devices/{id}'],
  ['DELETE', '/devices/{id}'],
  ['GET', '/statistics/devices'],
  ['POST', '/devices/query'],
  ['GET', '/twins/{id}'],
  ['PATCH', '/twins/{id}'],
  ['PUT', '/twins/{id}'],
  ['POST', '/twins/{id}/methods'],
  ['PUT', '/jobs/v2/{id}'],
  ['GET', '/jobs/v2/{id}'],
  ['POST', '/jobs/v2/{id}/cancel'],
  ['GET', '/jobs/v2/query'],
  ['GET', '/metrics'],
  ['GET', '/$emulator/recording'],
  ['DELETE', '/$emulator/recording'],
  ['GET', '/$emulator/clock'],
  ['POST', '/$emulator/clock/advance'],
  ['GET', '/health'],
  ['GET', '/devices/{id}/modules'],
  ['PUT', '/devices/{id}/modules/{id}'],
  ['POST', '/messages/deviceBound'],
  ['POST', '/twins/{id}/modules/{id}/methods'],
  ['GET', '/configurations'],
  ['GET', '/'],
  ['GET', '/$iothub/websocket'],
];
const METHODS = ['GET', 'PUT', 'PATCH', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'CONNECT', 'FOO', 'get', 'M-SEARCH', 'X'.repeat(40)];
const QUERIES = [
  '',
  '?api-version=2021-04-12',
  '?api-version=2020-09-30',
  '?api-version=nonsense',
  '?top=5',
  '?top=-1',
  '?top=abc&api-version=2021-04-12',
  '?%ZZ=1',
  '?a=1&a=2',
  '?jobType=scheduleUpdateTwin&jobStatus=queued',
  `?${'q'.repeat(3000)}`,
];
const SPECIAL_IDS = ['%ZZ', '%00', '..', 'a%2Fb', 'x'.repeat(200), '%F0%9F%98%80', '$', '', '%20', 'fz%', '%C0%AF', 'A'.repeat(129), '-', 'a.b'];

const text = fc.string({ unit: 'binary', maxLength: 40 });
const anyJson = fc.jsonValue({ maxDepth: 4 });

/** Request bodies: shaped like each API's body with fields of any type, wrong types, depth, size, broken bytes. */
function bodies(ctx: RestContext): fc.Arbitrary<unknown> {
  const id = fc.constantFrom(...ctx.deviceIds);
  const seconds = fc.oneof(fc.constantFrom(0, 5, 30, 300, 301, -1, 1.5, 4), text, fc.constant(null));
  const device = fc.record(
    {
      deviceId: fc.oneof(id, text),
      status: fc.oneof(fc.constantFrom('enabled', 'disabled', 'Disabled', ''), anyJson),
      statusReason: fc.oneof(text, anyJson),
      authentication: fc.oneof(
        anyJson,
        fc.record({
          type: fc.constantFrom('sas', 'selfSigned', 'none', 'x'),
          symmetricKey: fc.record({ primaryKey: fc.oneof(text, fc.constant('')), secondaryKey: text }),
        }),
      ),
      capabilities: anyJson,
      etag: text,
    },
    { requiredKeys: [] },
  );
  const twinPatch = fc.record(
    {
      tags: anyJson,
      properties: fc.oneof(anyJson, fc.record({ desired: anyJson, reported: anyJson }, { requiredKeys: [] })),
      etag: text,
      deviceId: fc.oneof(id, text),
    },
    { requiredKeys: [] },
  );
  const method = fc.record(
    {
      methodName: fc.oneof(fc.constantFrom('lockDoor', '\u0000', 'a/b', '$x', 'x'.repeat(129), ''), text, anyJson),
      payload: anyJson,
      responseTimeoutInSeconds: seconds,
      connectTimeoutInSeconds: fc.oneof(fc.constantFrom(0, -1, 301, 'x', 1.5), fc.constant(undefined)),
    },
    { requiredKeys: [] },
  );
  const condition = fc.oneof(
    id.map((d) => `deviceId = '${d}'`),
    fc.constant(`deviceId IN ['${ctx.deviceIds[0]}', '${ctx.deviceIds[1] ?? ctx.deviceIds[0]}']`),
    text,
  );
  const job = fc.record(
    {
      jobId: text,
      type: fc.constantFrom('scheduleUpdateTwin', 'scheduleDeviceMethod', 'import', 'x'),
      queryCondition: condition,
      startTime: fc.oneof(fc.constant(null), fc.constantFrom('2020-01-01T00:00:00Z', 'not a date'), text),
      maxExecutionTimeInSeconds: seconds,
      cloudToDeviceMethod: method,
      updateTwin: twinPatch,
    },
    { requiredKeys: [] },
  );
  const bulk = fc.array(
    fc.record(
      {
        id: fc.oneof(id, text),
        importMode: fc.constantFrom('create', 'update', 'delete', 'deleteIfMatchETag', 'updateTwinIfMatchETag', 'Update', 'x'),
        eTag: text,
        twinETag: text,
        status: fc.constantFrom('enabled', 'disabled'),
        tags: anyJson,
      },
      { requiredKeys: [] },
    ),
    { maxLength: 5 },
  );
  const deep = fc.integer({ min: 6, max: 3000 }).map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown);
  const wide = fc.integer({ min: 100, max: 20_000 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
  return fc.oneof(
    { weight: 3, arbitrary: fc.oneof(device, twinPatch, method, job, bulk, fc.record({ query: fc.oneof(text, anyJson) })) },
    { weight: 2, arbitrary: anyJson },
    { weight: 1, arbitrary: fc.oneof(deep, wide) },
  );
}

/** A request for any route, with any method, headers and body (docs/protocol.md §14). */
export function restCases(ctx: RestContext): fc.Arbitrary<RestCase> {
  const id = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...ctx.deviceIds) },
    { weight: 1, arbitrary: fc.constantFrom(...SPECIAL_IDS) },
    { weight: 1, arbitrary: fc.webSegment() },
  );
  const route = fc.constantFrom(...ROUTES);
  const method = fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) });
  const auth = fc.oneof(
    { weight: 6, arbitrary: fc.constant<'good' | 'bad' | 'none' | 'junk'>('good') },
    { weight: 1, arbitrary: fc.constantFrom<'good' | 'bad' | 'none' | 'junk'>('bad', 'none', 'junk') },
  );
  const ifMatch = fc.option(
    fc.oneof(
      fc.constantFrom('*', '"*"', '""', '', ' ', 'W/"x"', '"AAAAAAAAAAE="', '"a", "b"', '"'),
      text.filter((s) => !/[\r\n]/.test(s)),
    ),
    { nil: undefined, freq: 2 },
  );
  const contentType = fc.constantFrom(
    'application/json; charset=utf-8',
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    undefined,
    'application/json; charset=latin1',
  );
  const extra = fc.array(
    fc.oneof(
      fc.tuple(
        fc.constantFrom('x-ms-max-item-count', 'x-ms-continuation', 'request-id', 'user-agent', 'accept', 'upgrade', 'connection', 'expect'),
        fc.oneof(fc.constantFrom('0', '-5', '100', '1000000', 'abc', 'websocket', 'Upgrade', '100-continue', 'keep-alive'), fc.string({ maxLength: 30 })),
      ),
      fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 30 })),
    ),
    { maxLength: 3 },
  );
  const body = fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 5, arbitrary: bodies(ctx).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        Buffer.from('{"query":'),
        Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
        Buffer.from('{"a":1}{"b":2}'),
        Buffer.from('\ufeff{}'),
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom(1.2 * 1024 * 1024, 200 * 1024).map((n) => Buffer.from(JSON.stringify({ tags: { big: 'x'.repeat(n) } }))) },
  );
  const framing = fc.constantFrom<RestCase['framing']>('content-length', 'content-length', 'content-length', 'chunked', 'none', 'both');
  return fc
    .record({ route, method, firstId: id, secondId: id, query: fc.constantFrom(...QUERIES), auth, ifMatch, contentType, extra, body, framing })
    .map((r): RestCase => {
      const [routeMethod, template] = r.route;
      const headers: [string, string][] = [['host', ctx.hostName]];
      if (r.auth === 'good') headers.push(['authorization', ctx.token()]);
      else if (r.auth === 'bad') headers.push(['authorization', ctx.badTokens()[r.firstId.length % ctx.badTokens().length]]);
      else if (r.auth === 'junk') headers.push(['authorization', 'SharedAccessSignature sr=&sig=&se=x']);
      if (r.ifMatch !== undefined) headers.push(['if-match', r.ifMatch]);
      if (r.contentType) headers.push(['content-type', r.contentType]);
      headers.push(...r.extra);
      let count = 0;
      const path = template.replace(/\{id\}/g, () => (count++ === 0 ? r.firstId : r.secondId)) + r.query;
      return { method: r.method ?? routeMethod, path, headers, body: r.body, framing: r.body === undefined ? 'none' : r.framing };
    });
}

// The query language's tokens (docs/protocol.md §4), put together in any order: most strings are not
// queries; those that are exercise the parser, the planner and the evaluator.
const QUERY_TOKENS = [
  'SELECT',
  'select',
  '*',
  'FROM',
  'devices',
  'devices.jobs',
  'devices.modules',
  'WHERE',
  'AND',
  'OR',
  'NOT',
  'IN',
  'NIN',
  'AS',
  'GROUP',
  'BY',
  'TOP',
  'COUNT()',
  'count',
  '=',
  '!=',
  '<>',
  '<',
  '>',
  '<=',
  '>=',
  '+',
  '-',
  '/',
  '%',
  '(',
  ')',
  '[',
  ']',
  ',',
  '.',
  'IS_DEFINED(',
  'IS_NULL(',
  'IS_STRING(',
  'IS_NUMBER(',
  'IS_BOOL(',
  'IS_OBJECT(',
  'IS_ARRAY(',
  'IS_PRIMITIVE(',
  'STARTSWITH(',
  'ENDSWITH(',
  'ARRAY_CONTAINS(',
  'LOWER(',
  'UPPER(',
  'deviceId',
  'tags',
  'tags.location',
  'tags.a.b.c',
  'properties.desired',
  'properties.reported.temp',
  '$version',
  'status',
  'connectionState',
  'lastActivityTime',
  'jobId',
  'deviceJobs',
  "'fz-1'",
  "'it''s'",
  "'\\u0041'",
  "'\\x'",
  "'unterminated",
  '"double"',
  '[[group]]',
  '[[x',
  '0',
  '1',
  '-1',
  '1.5e3',
  '1e400',
  '0x10',
  'true',
  'false',
  'null',
  'undefined',
  'NaN',
];

export function queryCases(): fc.Arbitrary<string> {
  const token = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...QUERY_TOKENS) }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) });
  const structured = fc
    .tuple(fc.array(token, { maxLength: 4 }), fc.constantFrom('devices', 'devices.jobs', 'devices.modules'), fc.array(token, { maxLength: 14 }))
    .map(([select, from, where]) => `SELECT ${select.join(' ') || '*'} FROM ${from}${where.length ? ` WHERE ${where.join(' ')}` : ''}`);
  const free = fc.array(token, { maxLength: 30 }).map((t) => t.join(' '));
  const long = fc.integer({ min: 8000, max: 9000 }).map((n) => `SELECT * FROM devices WHERE tags.a = '${'x'.repeat(n)}'`);
  const nested = fc.integer({ min: 10, max: 2000 }).map((n) => `SELECT * FROM devices WHERE ${'('.repeat(n)}tags.a = 1${')'.repeat(n)}`);
  return fc.oneof({ weight: 6, arbitrary: structured }, { weight: 3, arbitrary: free }, { weight: 1, arbitrary: fc.oneof(long, nested) });
}

/** The bytes of a case on the wire. */
export function requestBytes(c: RestCase): Buffer {
  const lines = [`${c.method} ${c.path} HTTP/1.1`, ...c.headers.map(([k, v]) => `${k}: ${v}`)];
  let body: Buffer = Buffer.alloc(0);
  if (c.body !== undefined) {
    if (c.framing === 'content-length' || c.framing === 'both') lines.push(`content-length: ${c.body.length}`);
    if (c.framing === 'chunked' || c.framing === 'both') {
      lines.push('transfer-encoding: chunked');
      body = Buffer.concat([Buffer.from(`${c.body.length.toString(16)}\r\n`), c.body, Buffer.from('\r\n0\r\n\r\n')]);
    } else body = c.body;
  }
  lines.push('connection: close');
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), body]);
}

export function describeCase(c: RestCase): string {
  const body = c.body === undefined ? '' : ` body ${c.body.length} B ${JSON.stringify(c.body.subarray(0, 60).toString('utf8'))}`;
  const headers = c.headers
    .filter(([k]) => k !== 'authorization' && k !== 'host')
    .map(([k, v]) => `${k}: ${JSON.stringify(v.slice(0, 40))}`)
    .join('; ');
  return `${c.method} ${c.path.slice(0, 120)} [${c.framing}] ${headers}${body}`;
}
