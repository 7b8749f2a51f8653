import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { call, type RestAnswer } from './support/job-helpers.js';

// POST /devices (the bulk registry operation) is served in front of express
// (emulator/rest/bulk-route.ts). A gzip-encoded request still goes through express: each case
// is sent both ways, with device ids of its own, and must get the same answer.

let hub: Hub;

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

/** The express route's answer to the same request: gzip makes the front route hand it over. */
async function viaExpress(path: string, body: string, policy = 'iothubowner'): Promise<RestAnswer> {
  const response = await fetch(`https://${hub.hostName}:${hub.httpsPort}${path}`, {
    method: 'POST',
    headers: { authorization: hub.serviceToken(policy), 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'gzip' },
    body: gzipSync(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined };
}

// Every error answer has a tracking id of its own, and the time it was made (the two answers
// compared may fall either side of a second).
const answerOf = (a: RestAnswer) => ({
  status: a.status,
  type: a.headers.get('content-type'),
  errorCode: a.headers.get('iothub-errorcode'),
  json: JSON.parse(
    JSON.stringify(a.json ?? null)
      .replace(/Tracking ID:[0-9A-F]+/, 'Tracking ID:…')
      .replace(/TimeStamp:[^"\\]+/, 'TimeStamp:…'),
  ),
});

describe('the bulk registry route', () => {
  const cases: [name: string, body: (prefix: string) => string, policy?: string][] = [
    [
      'creates',
      (p) =>
        JSON.stringify([
          { id: `${p}-1`, importMode: 'create' },
          { id: `${p}-2`, importMode: 'create', tags: { a: 1 } },
        ]),
    ],
    ['reports each failed device', (p) => JSON.stringify([{ id: `${p}-1`, importMode: 'create' }, { id: `${p}-3`, importMode: 'update' }, { id: `${p}-4` }])],
    ['refuses a device twice in one call', (p) => JSON.stringify([{ id: `${p}-5` }, { id: `${p}-5` }])],
    ['refuses a body that is not an array', (p) => JSON.stringify({ id: p })],
    ['refuses an empty array', () => '[]'],
    ['refuses bad JSON', () => '[{"id": '],
    ['refuses an empty body', () => ''],
    ['refuses a policy without RegistryWrite', (p) => JSON.stringify([{ id: `${p}-6` }]), 'registryRead'],
  ];
  for (const [name, body, policy] of cases) {
    it(`${name}, as express does`, async () => {
      const front = await call(hub, 'POST', '/devices?api-version=2021-04-12', body('front'), {}, policy);
      const express = await viaExpress('/devices?api-version=2021-04-12', body('express'), policy);
      expect(answerOf(front)).toEqual(JSON.parse(JSON.stringify(answerOf(express)).replaceAll('express', 'front')));
    });
  }

  it('matches /devices case-insensitively, with a trailing slash and a query; leaves /devices/{id} to express', async () => {
    for (const [i, path] of ['/devices', '/DEVICES/', '/Devices?api-version=2021-04-12', '/devices/?api-version=2021-04-12'].entries()) {
      const answer = await call(hub, 'POST', path, [{ id: `path-${i}` }]);
      expect(answer.status, path).toBe(200);
      expect(answer.json).toEqual({ isSuccessful: true, errors: [], warnings: [] });
    }
    expect((await call(hub, 'GET', '/devices/path-0')).json.deviceId).toBe('path-0');
    expect((await call(hub, 'POST', '/devices/path-0', [{ id: 'x' }])).status).toBe(404);
  });

  it('refuses a body over 1 MB with 413, as express does', async () => {
    const huge = JSON.stringify([{ id: 'huge', tags: { a: 'x'.repeat(1024 * 1024) } }]);
    const front = await call(hub, 'POST', '/devices', huge);
    expect(front.status).toBe(413);
    expect(front.headers.get('iothub-errorcode')).toBe('MessageTooLarge');
    expect(front.headers.get('connection')).toBe('close');
  });
});
