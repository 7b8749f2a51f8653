import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type device from 'azure-iot-device';
import type { Hub } from '../emulator/hub.js';
import { c2dFilter } from '../protocol/topics.js';
import { c2dMessage, openServiceClient, type FeedbackLog, type ServiceClientInstance, eventually } from './support/c2d.js';
import { startTestHub } from './support/hub-factory.js';
import { connectRaw } from './support/raw-device.js';
import { createDevice, openDevice, rest } from './support/sdk.js';

let hub: Hub;
let service: ServiceClientInstance;
let feedback: FeedbackLog;

beforeAll(async () => {
  hub = await startTestHub();
  ({ client: service, feedback } = await openServiceClient(hub));
});
afterAll(async () => {
  await service?.close();
  await hub?.stop();
});

type DeviceMessage = InstanceType<typeof device.Message>;

function send(
  deviceId: string,
  body: string,
  options: Parameters<typeof c2dMessage>[1] & { correlationId?: string; contentType?: string; contentEncoding?: string } = {},
) {
  const message = c2dMessage(body, options);
  if (options.correlationId) message.correlationId = options.correlationId;
  if (options.contentType) message.contentType = options.contentType as never;
  if (options.contentEncoding) message.contentEncoding = options.contentEncoding as never;
  return service.send(deviceId, message);
}

describe('cloud-to-device messages to an MQTT device', () => {
  it('arrive with the property bag the SDK parses', async () => {
    const id = 'c2d-mqtt-bag';
    const client = await openDevice(await createDevice(hub, id));
    try {
      const received: DeviceMessage[] = [];
      client.on('message', (m: DeviceMessage) => received.push(m));
      await eventually(() => hub.connections.isSubscribed(id, 'c2d'), 5000, 'C2D subscription');
      await send(id, 'hello', {
        messageId: 'm-1',
        correlationId: 'c/1',
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        ack: 'full',
        properties: { odd: 'a/b&c=d' },
        expiryTimeUtc: Date.now() + 60_000,
      });
      await eventually(() => received.length === 1, 5000, 'the message');
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
      await eventually(() => hub.c2d.pending(id) === 0, 5000, 'PUBACK to complete it');
      const record = await eventually(() => feedback.records().find((r) => r.originalMessageId === 'm-1'), 5000, 'Success feedback');
      expect(record.statusCode).toBe('Success');
    } finally {
      await client.close();
    }
  });

  it('an offline device with a persistent session gets its queue once after reconnecting', async () => {
    const id = 'c2d-mqtt-offline';
    const cs = await createDevice(hub, id);
    let client = await openDevice(cs);
    client.on('message', () => {});
    await eventually(() => hub.connections.isSubscribed(id, 'c2d'), 5000, 'C2D subscription');
    await client.close();
    for (let i = 0; i < 5; i++) await send(id, `m${i}`, { messageId: `off-${i}` });
    expect(hub.c2d.pending(id)).toBe(5);
    client = await openDevice(cs);
    try {
      const received: string[] = [];
      client.on('message', (m: DeviceMessage) => received.push(m.messageId));
      await eventually(() => received.length >= 5 && hub.c2d.pending(id) === 0, 5000, 'the queue');
      // Another round trip on the same connection: anything duplicated would have arrived by then.
      await send(id, 'last', { messageId: 'off-last' });
      await eventually(() => received.includes('off-last'), 5000, 'the last message');
      expect(received).toEqual(['off-0', 'off-1', 'off-2', 'off-3', 'off-4', 'off-last']);
    } finally {
      await client.close();
    }
  });

  it('DELETE /devices/{id}/commands purges the queue', async () => {
    const id = 'c2d-purge';
    await createDevice(hub, id);
    await send(id, 'a', { messageId: 'purge-a', ack: 'full' });
    await send(id, 'b', { messageId: 'purge-b', ack: 'positive' });
    const res = await rest(hub, 'DELETE', `/devices/${id}/commands?api-version=2021-04-12`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ totalMessagesPurged: 2, deviceId: id, moduleId: null });
    expect(hub.c2d.pending(id)).toBe(0);
    // Purged feedback goes to senders that asked for negative outcomes only.
    const purged = await eventually(() => feedback.records().find((r) => r.originalMessageId === 'purge-a'), 5000, 'Purged feedback');
    expect(purged.statusCode).toBe('Purged');
    expect(feedback.records().some((r) => r.originalMessageId === 'purge-b')).toBe(false);
    const missing = await rest(hub, 'DELETE', `/devices/nobody/commands?api-version=2021-04-12`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('iothub-errorcode')).toBe('DeviceNotFound');
  });

  it('a delivery not acknowledged when the connection drops comes once on the next connection, not twice', async () => {
    const id = 'c2d-mqtt-inflight';
    await createDevice(hub, id);
    const first = await connectRaw(hub, id, { clean: false });
    await first.subscribeAsync(c2dFilter(id), { qos: 1 });
    const firstGot: string[] = [];
    first.on('message', (_topic, payload) => firstGot.push(payload.toString()));
    // Never PUBACK: mqtt.js acknowledges only when handleMessage calls back.
    first.handleMessage = () => {};
    await send(id, 'unacked', { messageId: 'inflight-1' });
    await eventually(() => firstGot.length === 1, 5000, 'the first delivery');
    first.end(true);
    await eventually(() => hub.connections.current(id) === undefined, 5000, 'the drop');
    expect(hub.c2d.pending(id)).toBe(1);
    // The persistent session brings the subscription back; aedes would also replay its stored copy.
    const second = await connectRaw(hub, id, { clean: false });
    try {
      const got: { payload: string; topic: string }[] = [];
      second.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
      await eventually(() => got.length >= 1 && hub.c2d.pending(id) === 0, 5000, 'the redelivery to be completed');
      await send(id, 'after', { messageId: 'inflight-2' });
      await eventually(() => got.some((g) => g.payload === 'after'), 5000, 'the next message');
      expect(got.map((g) => g.payload)).toEqual(['unacked', 'after']);
      expect(got[0].topic).toContain('%24.mid=inflight-1');
    } finally {
      second.end(true);
    }
  });
});
