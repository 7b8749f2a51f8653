import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../dashboard/index.js';
import type { Hub } from '../cli/start-hub.js';
import { startTestHub } from './support/hub-factory.js';
import { connectRaw } from './support/raw-device.js';
import { waitUntil } from './support/wait.js';

/** The live stream as a page reads it: batches of changed rows, not one event per change. */
const DEVICES = 100;
let hub: Hub;
let dashboard: Dashboard;
const ids = Array.from({ length: DEVICES }, (_, i) => `live-${String(i).padStart(3, '0')}`);

beforeAll(async () => {
  hub = await startTestHub();
  dashboard = await startDashboard(hub, { host: hub.options.host, port: 0 });
  for (const deviceId of ids) hub.registry.create({ deviceId });
});

afterAll(async () => {
  await dashboard?.stop();
  await hub?.stop();
});

interface Batch {
  rows: { deviceId: string; connectionState: string }[];
}

function readStream(url: string): { batches: Batch[]; summaries: { registered: number; connected: number }[]; stop(): void } {
  const abort = new AbortController();
  const batches: Batch[] = [];
  const summaries: { registered: number; connected: number }[] = [];
  void (async () => {
    const response = await fetch(url, { signal: abort.signal });
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = event.slice(event.indexOf('data: ') + 6);
          if (event.startsWith('event: rows')) batches.push(JSON.parse(data) as Batch);
          if (event.startsWith('event: summary')) summaries.push(JSON.parse(data) as { registered: number; connected: number });
        }
      }
    } catch {
      // aborted
    }
  })();
  return { batches, summaries, stop: () => abort.abort() };
}

describe('the dashboard live stream', () => {
  it('sends the rows a page watches in coalesced batches as devices connect and disconnect', async () => {
    const watched = ids.slice(0, 60);
    const stream = readStream(`${dashboard.url}api/live?${watched.map((id) => `rows=${encodeURIComponent(id)}`).join('&')}`);
    try {
      await waitUntil(() => stream.summaries.length > 0, 5000, 'the first summary');
      expect(stream.summaries[0]).toEqual({ registered: DEVICES, connected: 0 });

      const clients: MqttClient[] = await Promise.all(ids.map((id) => connectRaw(hub, id)));
      const latest = new Map<string, string>();
      const stateOf = (): Map<string, string> => {
        for (const batch of stream.batches) for (const row of batch.rows) latest.set(row.deviceId, row.connectionState);
        return latest;
      };
      await waitUntil(() => watched.every((id) => stateOf().get(id) === 'Connected'), 15_000, 'every watched row connected');
      // Only watched rows travel, and 60 changes arrive in fewer batches than changes.
      const rowsSent = stream.batches.flatMap((b) => b.rows.map((r) => r.deviceId));
      expect(new Set(rowsSent)).toEqual(new Set(watched));
      expect(stream.batches.length).toBeLessThan(watched.length);
      await waitUntil(() => stream.summaries.at(-1)?.connected === DEVICES, 5000, 'the summary to count every connection');

      const before = stream.batches.length;
      await Promise.all(clients.map((c) => c.endAsync()));
      await waitUntil(() => watched.every((id) => stateOf().get(id) === 'Disconnected'), 15_000, 'every watched row disconnected');
      expect(stream.batches.length - before).toBeLessThan(watched.length);
      await waitUntil(() => stream.summaries.at(-1)?.connected === 0, 5000, 'the summary to count the disconnections');
    } finally {
      stream.stop();
    }
  });

  it('reports a refused action in the hub’s own words', async () => {
    const response = await fetch(`${dashboard.url}api/devices/live-000/twin`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ patch: { properties: { reported: { x: 1 } } } }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ status: 400, errorCode: 'ArgumentInvalid' });
    const missing = await fetch(`${dashboard.url}api/devices/nobody`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ status: 404, errorCode: 'DeviceNotFound', code: 404001, message: 'Device nobody could not be found.' });
  });
});
