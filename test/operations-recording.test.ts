import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { connectRaw } from './support/raw-device.js';
import { createDevice, openDevice, rest, serviceClientFor } from './support/sdk.js';
import { waitUntil } from './support/wait.js';

let hub: Hub;
beforeAll(async () => {
  hub = await startTestHub({ telemetryBuffer: 3, recordingLimit: 50 } as never);
});
afterAll(() => hub?.stop());

describe('GET /$emulator/recording', () => {
  it('lists method calls with payloads and responses, twin patches from both sides, telemetry and connections, in order', async () => {
    const client = await openDevice(await createDevice(hub, 'rec-door'));
    client.onDeviceMethod('lockDoor', (_request, response) => response.send(201, { locked: true }));
    await waitUntil(() => hub.connections.isSubscribed('rec-door', 'methods'), 3000, 'methods subscription');
    try {
      const twin = await client.getTwin();
      await new Promise<void>((resolve, reject) => twin.properties.reported.update({ battery: 80 }, (e?: Error) => (e ? reject(e) : resolve())));
      await rest(hub, 'PATCH', '/twins/rec-door?api-version=2021-04-12', { tags: { floor: 2 }, properties: { desired: { mode: 'eco' } } });
      await serviceClientFor(hub).invokeDeviceMethod('rec-door', { methodName: 'lockDoor', payload: { by: 'bob' }, responseTimeoutInSeconds: 5 });
    } finally {
      await client.close();
    }
    await waitUntil(() => hub.recording.connections({ deviceId: 'rec-door' }).length === 2, 3000, 'disconnection');
    await expect(serviceClientFor(hub).invokeDeviceMethod('rec-door', { methodName: 'lockDoor', payload: { by: 'carol' } })).rejects.toThrow();

    const { status, json } = await rest(hub, 'GET', '/$emulator/recording?deviceId=rec-door');
    expect(status).toBe(200);
    const entries = json.entries as { seq: number; kind: string }[];
    expect(entries.map((e) => e.seq)).toEqual([...entries.map((e) => e.seq)].sort((a, b) => a - b));
    expect(entries.map((e) => e.kind)).toEqual(['device', 'connection', 'twin', 'twin', 'twin', 'method', 'connection', 'method']);
    expect(entries).toContainEqual(expect.objectContaining({ kind: 'twin', side: 'device', section: 'reported', patch: { battery: 80 } }));
    expect(entries).toContainEqual(expect.objectContaining({ kind: 'twin', side: 'service', section: 'tags', patch: { floor: 2 } }));
    expect(entries).toContainEqual(expect.objectContaining({ kind: 'twin', side: 'service', section: 'desired', patch: { mode: 'eco' } }));
    expect(entries).toContainEqual(
      expect.objectContaining({ kind: 'method', methodName: 'lockDoor', payload: { by: 'bob' }, status: 201, response: { locked: true } }),
    );
    const failed = entries[7] as unknown as { payload: unknown; status?: number; error?: string };
    expect(failed.payload).toEqual({ by: 'carol' });
    expect(failed.status).toBeUndefined();
    expect(failed.error).toMatch(/isn't online/);

    const methods = await rest(hub, 'GET', '/$emulator/recording?deviceId=rec-door&kind=method');
    expect(methods.json.entries.map((e: { payload: { by: string } }) => e.payload.by)).toEqual(['bob', 'carol']);
    const since = await rest(hub, 'GET', `/$emulator/recording?deviceId=rec-door&since=${entries[5].seq}`);
    expect(since.json.entries.map((e: { seq: number }) => e.seq)).toEqual(entries.slice(6).map((e) => e.seq));
  });

  it('keeps the newest telemetry up to --telemetry-buffer, with properties and enqueue time, and says how many it dropped', async () => {
    // From an empty buffer, whatever telemetry other tests sent.
    expect((await rest(hub, 'DELETE', '/$emulator/recording')).status).toBe(204);
    await createDevice(hub, 'rec-chatty');
    const device = await connectRaw(hub, 'rec-chatty');
    try {
      for (let i = 1; i <= 5; i++) device.publish(`devices/rec-chatty/messages/events/n=${i}&%24.ct=application%2Fjson`, JSON.stringify({ i }));
      await waitUntil(
        () => hub.recording.telemetry({ deviceId: 'rec-chatty', where: (e) => (e.payload as { i: number }).i === 5 }).length === 1,
        3000,
        'the fifth message',
      );
    } finally {
      device.end(true);
    }
    const { json } = await rest(hub, 'GET', '/$emulator/recording?kind=telemetry');
    expect(json.entries.map((e: { payload: { i: number } }) => e.payload.i)).toEqual([3, 4, 5]);
    expect(json.entries[2]).toMatchObject({ deviceId: 'rec-chatty', encoding: 'json', properties: { n: '5', '$.ct': 'application/json' } });
    expect(json.entries[2].enqueuedTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
    expect(json.telemetry).toEqual({ size: 3, capacity: 3, dropped: 2 });
  });

  it('keeps binary and text bodies exact', async () => {
    await createDevice(hub, 'rec-binary');
    const device = await connectRaw(hub, 'rec-binary');
    try {
      device.publish('devices/rec-binary/messages/events/', Buffer.from([0xff, 0x00, 0xfe]));
      device.publish('devices/rec-binary/messages/events/', 'plain text');
      await waitUntil(() => hub.recording.telemetry({ deviceId: 'rec-binary' }).length === 2, 3000, 'two messages');
    } finally {
      device.end(true);
    }
    expect(hub.recording.telemetry({ deviceId: 'rec-binary' }).map(({ payload, encoding }) => ({ payload, encoding }))).toEqual([
      { payload: '/wD+', encoding: 'base64' },
      { payload: 'plain text', encoding: 'text' },
    ]);
  });

  it('DELETE clears it; later entries keep counting up', async () => {
    const before = hub.recording.lastSeq;
    expect((await rest(hub, 'DELETE', '/$emulator/recording')).status).toBe(204);
    expect((await rest(hub, 'GET', '/$emulator/recording')).json.entries).toEqual([]);
    await createDevice(hub, 'rec-after-clear');
    const { json } = await rest(hub, 'GET', '/$emulator/recording');
    expect(json.entries).toMatchObject([{ kind: 'device', event: 'created', deviceId: 'rec-after-clear' }]);
    expect(json.entries[0].seq).toBeGreaterThan(before);
  });

  it('refuses unknown kinds and callers without ServiceConnect, in the hub error envelope', async () => {
    const badKind = await rest(hub, 'GET', '/$emulator/recording?kind=telemetry,bogus');
    expect(badKind.status).toBe(400);
    expect(badKind.json.Message).toMatch(/^ErrorCode:ArgumentInvalid;Unknown kind 'bogus'/);
    const noToken = await rest(hub, 'GET', '/$emulator/recording', undefined, { authorization: '' });
    expect(noToken.status).toBe(401);
    const readOnly = await rest(hub, 'GET', '/$emulator/recording', undefined, { authorization: hub.serviceToken('registryRead') });
    expect(readOnly.status).toBe(401);
    expect((await rest(hub, 'GET', '/$emulator/recording', undefined, { authorization: hub.serviceToken('service') })).status).toBe(200);
  });
});
