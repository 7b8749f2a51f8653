import https from 'node:https';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { DEFAULT_MQTT_MAX_PACKET_BYTES } from '../emulator/limits.js';
import { startTestHub } from './support/hub-factory.js';
import { connectRaw } from './support/raw-device.js';
import { closesWithin, connectedWire, connectPacket, publishWithTopicBytes, rawTls, remainingLength, until } from './support/raw-wire.js';
import { createDevice, openDevice } from './support/sdk.js';

// Issue 17: what one misbehaving MQTT client can no longer do to the hub (docs/protocol.md §14).
let hub: Hub;

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

describe('MQTT packet size', () => {
  it('closes a connection whose PUBLISH declares more than the bound, before its body arrives', async () => {
    await createDevice(hub, 'h-big');
    const wire = await connectedWire(hub, 'h-big');
    // 268 MB declared, 1 KB sent: the hub must not wait for (or buffer) the rest.
    wire.write(Buffer.concat([Buffer.from([0x30]), remainingLength(268_435_455), Buffer.alloc(1024, 0x41)]));
    expect(await closesWithin(wire, 5000)).toBe(true);
  });

  it('closes a connection whose very first packet declares more than the bound', async () => {
    const wire = await rawTls(hub);
    wire.write(Buffer.concat([Buffer.from([0x10]), remainingLength(DEFAULT_MQTT_MAX_PACKET_BYTES + 1), Buffer.alloc(64)]));
    expect(await closesWithin(wire, 5000)).toBe(true);
    expect(wire.packets()).toEqual([]);
  });

  it('accepts a 256 KB telemetry message, the hub\u2019s own limit', async () => {
    await createDevice(hub, 'h-256');
    const client = await connectRaw(hub, 'h-256');
    const seen = new Promise<number>((resolve) => hub.events.on('telemetry', (e) => e.deviceId === 'h-256' && resolve(e.payload.length)));
    await client.publishAsync('devices/h-256/messages/events/', Buffer.alloc(256 * 1024, 0x61), { qos: 1 });
    expect(await seen).toBe(256 * 1024);
    await client.endAsync();
  });

  it('closes a WebSocket whose frame declares more than the bound, before the frame arrives', async () => {
    const socket = await upgradeToMqttWebSocket(hub);
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    socket.on('error', () => undefined);
    // A masked binary frame declaring 64 MB (64-bit length), followed by a few bytes.
    const header = Buffer.alloc(14);
    header[0] = 0x82;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(64 * 1024 * 1024), 2);
    socket.write(Buffer.concat([header, Buffer.alloc(1024)]));
    // The hub answers with a close frame, status 1009 (message too big), and waits for ours.
    await until(() => received.length >= 4, 5000, 'a close frame').catch(() => undefined);
    expect([...received.subarray(0, 4)]).toEqual([0x88, 0x02, 0x03, 0xf1]);
    socket.destroy();
  });
});

describe('UTF-8 in topics and client ids (MQTT 3.1.1 §1.5.3)', () => {
  it('closes the connection on a PUBLISH topic that is not well-formed UTF-8, and forwards nothing', async () => {
    await createDevice(hub, 'h-utf8');
    const seen: string[] = [];
    hub.events.on('telemetry', (e) => e.deviceId === 'h-utf8' && seen.push(e.deviceId));
    const wire = await connectedWire(hub, 'h-utf8');
    wire.write(publishWithTopicBytes(Buffer.concat([Buffer.from('devices/h-utf8/messages/events/'), Buffer.from([0xff, 0xfe])])));
    expect(await closesWithin(wire, 5000)).toBe(true);
    expect(seen).toEqual([]);
  });

  it('closes the connection on a PUBLISH topic holding U+0000', async () => {
    await createDevice(hub, 'h-nul');
    const wire = await connectedWire(hub, 'h-nul');
    wire.write(publishWithTopicBytes(Buffer.from('devices/h-nul/messages/events/a=\u0000')));
    expect(await closesWithin(wire, 5000)).toBe(true);
  });

  it('closes the connection on a client id holding U+0000, without a CONNACK', async () => {
    await createDevice(hub, 'h-cid');
    const wire = await rawTls(hub);
    wire.write(connectPacket(hub, 'h-cid', { clientId: 'h-cid\u0000' }));
    expect(await closesWithin(wire, 5000)).toBe(true);
    expect(wire.packets()).toEqual([]);
  });

  it('closes the connection on a client id that is not well-formed UTF-8 (an encoded surrogate)', async () => {
    const wire = await rawTls(hub);
    const good = connectPacket(hub, 'h-srg', { clientId: 'h-srgXXX' });
    const at = good.indexOf(Buffer.from('h-srgXXX'));
    Buffer.from([0xed, 0xa0, 0x80]).copy(good, at + 5); // U+D800 as UTF-8 bytes: ill-formed
    wire.write(good);
    expect(await closesWithin(wire, 5000)).toBe(true);
    expect(wire.packets()).toEqual([]);
  });

  it('accepts a topic holding a well-formed U+FFFD (EF BF BD), which the parser decodes as it decodes ill-formed bytes', async () => {
    await createDevice(hub, 'h-fffd');
    const client = await connectRaw(hub, 'h-fffd');
    const seen = new Promise<string>((resolve) => hub.events.on('telemetry', (e) => e.deviceId === 'h-fffd' && resolve(e.deviceId)));
    await client.publishAsync('devices/h-fffd/messages/events/a=\uFFFD', 'x', { qos: 1 });
    expect(await seen).toBe('h-fffd');
    await client.endAsync();
  });

  it('leaves other devices connected', async () => {
    const bystander = await openDevice(await createDevice(hub, 'h-bystander'));
    try {
      const wire = await connectedWire(hub, await createDevice(hub, 'h-bad').then(() => 'h-bad'));
      wire.write(publishWithTopicBytes(Buffer.from([0xc0, 0xaf])));
      expect(await closesWithin(wire, 5000)).toBe(true);
      const twin = await bystander.getTwin();
      expect(twin.properties.desired.$version).toBe(1);
    } finally {
      await bystander.close();
    }
  });
});

describe('QoS grants', () => {
  it('grants a QoS 2 SUBSCRIBE as QoS 1 in the SUBACK, as IoT Hub does (docs/protocol.md §1.9)', async () => {
    await createDevice(hub, 'h-qos');
    const client = await connectRaw(hub, 'h-qos', { clean: false });
    const granted = await client.subscribeAsync('$iothub/methods/POST/#', { qos: 2 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    await client.endAsync();
  });
});

/** Completes the WebSocket upgrade on /$iothub/websocket (sub-protocol mqtt) and hands back the raw socket. */
function upgradeToMqttWebSocket(h: Hub): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const request = https.request({
      host: h.options.host,
      servername: h.hostName,
      port: h.httpsPort,
      path: '/$iothub/websocket',
      ca: h.ca,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.alloc(16, 1).toString('base64'),
        'sec-websocket-protocol': 'mqtt',
      },
    });
    request.on('upgrade', (_res, socket) => resolve(socket as net.Socket));
    request.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    request.on('error', reject);
    request.end();
  });
}
