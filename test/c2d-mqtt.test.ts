import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import device from 'azure-iot-device';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { createDevice, openDevice, rest, waitFor } from './support/sdk.js';

let hub: Hub;

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

type DeviceMessage = InstanceType<typeof device.Message>;

function send(deviceId: string, body: string, extra: Partial<Parameters<Hub['c2d']['send']>[1]> = {}) {
  return hub.c2d.send(deviceId, { ack: 'none', properties: {}, body: Buffer.from(body), ...extra });
}

describe('cloud-to-device messages to an MQTT device', () => {
  it('arrive with the property bag the SDK parses', async () => {
    const id = 'c2d-mqtt-bag';
    const client = await openDevice(await createDevice(hub, id));
    try {
      const received: DeviceMessage[] = [];
      client.on('message', (m: DeviceMessage) => received.push(m));
      await waitFor(() => hub.connections.isSubscribed(id, 'c2d'), 5000, 'C2D subscription');
      send(id, 'hello', { messageId: { value: 'm-1', type: 'string' }, correlationId: { value: 'c/1', type: 'string' }, contentType: 'application/json', contentEncoding: 'utf-8', ack: 'full', properties: { odd: 'a/b&c=d' }, expiryTimeMs: Date.now() + 60_000 });
      await waitFor(() => received.length === 1, 5000, 'the message');
      const m = received[0];
      expect(m.getBytes().toString()).toBe('hello');
      expect(m.messageId).toBe('m-1');
      expect(m.correlationId).toBe('c/1');
      expect(m.to).toBe(`/devices/${id}/messages/devicebound`);
      expect(m.contentType).toBe('application/json');
      expect(m.contentEncoding).toBe('utf-8');
      expect(m.expiryTimeUtc).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(m.properties.getValue('odd')).toBe('a/b&c=d');
      expect(m.properties.getValue('iothub-ack')).toBe('full');
      await waitFor(() => hub.c2d.pending(id) === 0, 5000, 'PUBACK to complete it');
    } finally {
      await client.close();
    }
  });

  it('an offline device with a persistent session gets its queue once after reconnecting', async () => {
    const id = 'c2d-mqtt-offline';
    const cs = await createDevice(hub, id);
    let client = await openDevice(cs);
    client.on('message', () => {});
    await waitFor(() => hub.connections.isSubscribed(id, 'c2d'), 5000, 'C2D subscription');
    await client.close();
    for (let i = 0; i < 5; i++) send(id, `m${i}`, { messageId: { value: `off-${i}`, type: 'string' } });
    expect(hub.c2d.pending(id)).toBe(5);
    client = await openDevice(cs);
    try {
      const received: string[] = [];
      client.on('message', (m: DeviceMessage) => received.push(m.messageId));
      await waitFor(() => received.length >= 5 && hub.c2d.pending(id) === 0, 5000, 'the queue');
      // Another round trip on the same connection: anything duplicated would have arrived by then.
      send(id, 'last', { messageId: { value: 'off-last', type: 'string' } });
      await waitFor(() => received.includes('off-last'), 5000, 'the last message');
      expect(received).toEqual(['off-0', 'off-1', 'off-2', 'off-3', 'off-4', 'off-last']);
    } finally {
      await client.close();
    }
  });

  it('DELETE /devices/{id}/commands purges the queue', async () => {
    const id = 'c2d-purge';
    await createDevice(hub, id);
    send(id, 'a');
    send(id, 'b');
    const res = await rest(hub, 'DELETE', `/devices/${id}/commands?api-version=2021-04-12`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ totalMessagesPurged: 2, deviceId: id, moduleId: null });
    expect(hub.c2d.pending(id)).toBe(0);
    const missing = await rest(hub, 'DELETE', `/devices/nobody/commands?api-version=2021-04-12`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('iothub-errorcode')).toBe('DeviceNotFound');
  });
});
