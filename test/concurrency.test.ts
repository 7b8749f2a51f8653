import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSasToken } from '../protocol/sas.js';
import { findPolicy } from '../emulator/identity/policies.js';
import type { Hub } from '../emulator/hub.js';
import { exited, startArgs, startEmulatorCli } from './support/cli-process.js';
import { startTestHub } from './support/hub-factory.js';
import { rest, type TwinJson } from './support/sdk.js';

// Issue 17 §4: what the fuzz run proved about concurrent writes, kept by a test.

describe('50 concurrent conditional writers per etag generation', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub?.stop());

  it('twin PATCH: exactly one 200 per generation, the other 49 get 412, and versions move by one', async () => {
    await rest(hub, 'PUT', '/devices/c-twin', { deviceId: 'c-twin' });
    for (let generation = 0; generation < 5; generation++) {
      const before = (await rest(hub, 'GET', '/twins/c-twin')).json as TwinJson;
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, writer) =>
          rest(hub, 'PATCH', '/twins/c-twin', { properties: { desired: { writer, generation } } }, { 'if-match': `"${before.etag}"` }),
        ),
      );
      const winners = answers.flatMap((a, writer) => (a.status === 200 ? [writer] : []));
      expect(winners).toHaveLength(1);
      expect(answers.filter((a) => a.status === 412 && a.headers.get('iothub-errorcode') === 'PreconditionFailed')).toHaveLength(49);
      const after = (await rest(hub, 'GET', '/twins/c-twin')).json as TwinJson;
      expect(after.properties.desired.writer).toBe(winners[0]);
      expect(after.properties.desired.generation).toBe(generation);
      expect(after.properties.desired.$version).toBe(before.properties.desired.$version + 1);
      expect(after.version).toBe(before.version + 1);
      expect(after.etag).not.toBe(before.etag);
      // The winner's answer is the twin as it was written.
      expect((answers[winners[0]].json as TwinJson).etag).toBe(after.etag);
    }
  });

  it('device PUT: exactly one 200 per generation, the other 49 get 412', async () => {
    await rest(hub, 'PUT', '/devices/c-dev', { deviceId: 'c-dev' });
    for (let generation = 0; generation < 5; generation++) {
      const before = (await rest(hub, 'GET', '/devices/c-dev')).json as { etag: string; statusReason: string | null };
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, writer) =>
          rest(
            hub,
            'PUT',
            '/devices/c-dev',
            { deviceId: 'c-dev', status: 'enabled', statusReason: `w${writer}g${generation}` },
            { 'if-match': `"${before.etag}"` },
          ),
        ),
      );
      const winners = answers.flatMap((a, writer) => (a.status === 200 ? [writer] : []));
      expect(winners).toHaveLength(1);
      expect(answers.filter((a) => a.status === 412)).toHaveLength(49);
      const after = (await rest(hub, 'GET', '/devices/c-dev')).json as { etag: string; statusReason: string };
      expect(after.statusReason).toBe(`w${winners[0]}g${generation}`);
      expect(after.etag).not.toBe(before.etag);
    }
  });
});

describe('kill -9 during 1,000 concurrent twin PATCHes', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-kill-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const start = (host?: string) => startEmulatorCli((h) => startArgs(h, dataDir), { host });

  it('keeps every acknowledged write after a restart on the same data directory, and none half-written', async () => {
    const first = await start();
    const host = first.host;
    const owner = findPolicy('iothubowner')!;
    const token = (): string => createSasToken(host, owner.primaryKey, Math.ceil(Date.now() / 1000) + 3600, owner.keyName);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 100 });
    const call = (method: string, urlPath: string, body?: unknown): Promise<{ status: number; json: unknown }> =>
      new Promise((resolve, reject) => {
        const text = body === undefined ? undefined : JSON.stringify(body);
        const req = https.request(
          {
            host,
            port: 443,
            method,
            path: urlPath,
            agent,
            headers: { authorization: token(), 'content-type': 'application/json', ...(text ? { 'content-length': Buffer.byteLength(text) } : {}) },
          },
          (res) => {
            let data = '';
            res.setEncoding('utf8');
            res.on('data', (c) => (data += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, json: data ? JSON.parse(data) : undefined }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(text);
      });

    const devices = Array.from({ length: 10 }, (_, i) => `k-${i}`);
    try {
      for (const id of devices) expect((await call('PUT', `/devices/${id}`, { deviceId: id })).status).toBe(200);
      const acknowledged: { id: string; n: number }[] = [];
      let killed = false;
      const patches = Array.from({ length: 1000 }, (_, n) => {
        const id = devices[n % devices.length];
        // Two keys and a nested object per write: after the kill, all of it or none of it.
        return call('PATCH', `/twins/${id}`, { properties: { desired: { [`a${n}`]: n, [`b${n}`]: { n, half: `${n}-${'x'.repeat(64)}` } } } }).then(
          (r) => {
            if (r.status === 200) acknowledged.push({ id, n });
            else if (!killed) throw new Error(`PATCH answered ${r.status} before the kill`);
            if (acknowledged.length === 300 && !killed) {
              killed = true;
              first.child.kill('SIGKILL');
            }
          },
          () => undefined, // cut off by the kill
        );
      });
      await Promise.all(patches);
      expect(killed).toBe(true);
      await exited(first.child);
      expect(acknowledged.length).toBeGreaterThanOrEqual(300);
      expect(acknowledged.length, 'the kill must land while writes are in flight').toBeLessThan(1000);
      agent.destroy();

      const second = await start(host);
      try {
        for (const id of devices) {
          const twin = (await call('GET', `/twins/${id}`)).json as TwinJson;
          const desired = twin.properties.desired as Record<string, unknown> & { $version: number };
          const present = Object.keys(desired)
            .filter((k) => /^a\d+$/.test(k))
            .map((k) => Number(k.slice(1)));
          for (const { n } of acknowledged.filter((a) => a.id === id)) expect(present, `acknowledged write ${n} on ${id}`).toContain(n);
          for (const n of present) {
            expect(desired[`a${n}`]).toBe(n);
            expect(desired[`b${n}`]).toEqual({ n, half: `${n}-${'x'.repeat(64)}` });
          }
          expect(Object.keys(desired).filter((k) => /^b\d+$/.test(k))).toHaveLength(present.length);
          // One version per applied write: nothing applied twice, nothing applied in part.
          expect(desired.$version).toBe(1 + present.length);
        }
      } finally {
        second.child.kill('SIGINT');
        await exited(second.child);
      }
    } finally {
      agent.destroy();
      if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
    }
  }, 90_000);
});
