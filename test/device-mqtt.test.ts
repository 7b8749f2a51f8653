import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { closed, connectRaw, dropWithWill } from './support/raw-device.js';
import { createDevice, openDevice, registryFor, type TransportName, type TwinJson } from './support/sdk.js';
import { waitUntil } from './support/wait.js';

let hub: Hub;
let registry: ReturnType<typeof registryFor>;

beforeAll(async () => {
  hub = await startTestHub();
  registry = registryFor(hub);
});
afterAll(() => hub?.stop());

describe.each<TransportName>(['Mqtt', 'MqttWs'])('an azure-iot-device client over %s', (transport) => {
  it('connects, shows Connected in the twin, and reads its twin without tags or $metadata', async () => {
    const id = `dev-open-${transport}`;
    const client = await openDevice(await createDevice(hub, id), transport);
    try {
      await registry.updateTwin(id, { tags: { secret: 1 }, properties: { desired: { interval: 5 } } }, '*');
      const twin = await client.getTwin();
      expect(twin.properties.desired.interval).toBe(5);
      expect(twin.properties.desired.$version).toBe(2);
      expect(twin.properties.desired).not.toHaveProperty('$metadata');
      expect(twin).not.toHaveProperty('tags.secret');
      const service = (await registry.getTwin(id)).responseBody as TwinJson;
      expect(service.connectionState).toBe('Connected');
      expect(service.lastActivityTime).not.toBe('0001-01-01T00:00:00Z');
    } finally {
      await client.close();
    }
    await waitUntil(async () => ((await registry.getTwin(id)).responseBody as TwinJson).connectionState === 'Disconnected', 3000, 'Disconnected');
  });

  it('reports properties that the service sees, with $version moving by one', async () => {
    const id = `dev-rep-${transport}`;
    const client = await openDevice(await createDevice(hub, id), transport);
    try {
      const twin = await client.getTwin();
      await new Promise<void>((resolve, reject) =>
        twin.properties.reported.update({ doorState: 'locked', fw: { v: '1.0' } }, (e?: Error) => (e ? reject(e) : resolve())),
      );
      await new Promise<void>((resolve, reject) => twin.properties.reported.update({ fw: null }, (e?: Error) => (e ? reject(e) : resolve())));
      const reported = ((await registry.getTwin(id)).responseBody as TwinJson).properties.reported;
      expect(reported.doorState).toBe('locked');
      expect(reported).not.toHaveProperty('fw');
      expect(reported.$version).toBe(3);
      expect(reported.$metadata.doorState.$lastUpdated).toBeTruthy();
      expect(reported.$metadata.doorState).not.toHaveProperty('$lastUpdatedVersion');
    } finally {
      await client.close();
    }
  });

  it('receives desired patches from Registry.updateTwin and Twin.update with the right $version', async () => {
    const id = `dev-des-${transport}`;
    const client = await openDevice(await createDevice(hub, id), transport);
    try {
      const twin = await client.getTwin();
      const seen: Record<string, unknown>[] = [];
      twin.on('properties.desired', (delta: Record<string, unknown>) => seen.push(delta));
      await waitUntil(() => seen.length === 1, 3000, 'the initial desired event');
      await waitUntil(() => hub.connections.isSubscribed(id, 'desired'), 3000, 'desired subscription');

      await registry.updateTwin(id, { properties: { desired: { interval: 10 } } }, '*');
      await waitUntil(() => seen.some((d) => d.interval === 10), 3000, 'first desired patch');
      expect(seen.at(-1)).toEqual({ interval: 10, $version: 2 });

      const serviceTwin = (await registry.getTwin(id)).responseBody as TwinJson;
      await serviceTwin.update({ properties: { desired: { interval: null, mode: 'eco' } } });
      await waitUntil(() => seen.some((d) => d.mode === 'eco'), 3000, 'second desired patch');
      expect(seen.at(-1)).toEqual({ interval: null, mode: 'eco', $version: 3 });
      expect(twin.properties.desired).not.toHaveProperty('interval');
    } finally {
      await client.close();
    }
  });
});

describe('connection rules', () => {
  it('refuses a disabled device and drops a connected one when it is disabled', async () => {
    const id = 'dev-disable';
    const cs = await createDevice(hub, id);
    const raw = await connectRaw(hub, id);
    const dropped = closed(raw);
    await registry.update({ deviceId: id, status: 'disabled' });
    expect(await dropped).toBe(true);
    await waitUntil(async () => ((await registry.getTwin(id)).responseBody as TwinJson).connectionState === 'Disconnected', 3000, 'Disconnected');
    const error = await openDevice(cs).catch((e) => e);
    expect(error.constructor.name).toBe('UnauthorizedError');
  });

  it('a second connection for the same device drops the first, and the second works', async () => {
    const id = 'dev-twice';
    await createDevice(hub, id);
    const first = await connectRaw(hub, id);
    const firstClosed = closed(first);
    const second = await connectRaw(hub, id, { ws: true });
    try {
      expect(await firstClosed).toBe(true);
      await second.subscribeAsync('$iothub/twin/res/#');
      const answer = new Promise<string>((resolve) => second.on('message', (topic) => resolve(topic)));
      await second.publishAsync('$iothub/twin/GET/?$rid=42', ' ');
      expect(await answer).toBe('$iothub/twin/res/200/?$rid=42');
      expect(((await registry.getTwin(id)).responseBody as TwinJson).connectionState).toBe('Connected');
    } finally {
      await second.endAsync();
    }
  });
});

describe('telemetry and the rest of the device protocol', () => {
  it('accepts telemetry with its property bag and the C2D subscription', async () => {
    const id = 'dev-telemetry';
    const client = await openDevice(await createDevice(hub, id));
    const seen: { payload: string; properties: Record<string, string | null> }[] = [];
    const listener = (e: { deviceId: string; payload: Buffer; properties: Record<string, string | null> }): void => {
      if (e.deviceId === id) seen.push({ payload: e.payload.toString(), properties: e.properties });
    };
    hub.events.on('telemetry', listener);
    try {
      const { Message } = (await import('azure-iot-device')).default;
      const message = new Message(JSON.stringify({ temperature: 21.5 }));
      message.messageId = 'm-1';
      message.properties.add('alert', 'door open');
      await client.sendEvent(message);
      expect(seen).toHaveLength(1);
      expect(JSON.parse(seen[0].payload)).toEqual({ temperature: 21.5 });
      expect(seen[0].properties).toMatchObject({ '$.mid': 'm-1', alert: 'door open' });
      client.on('message', () => undefined);
      await waitUntil(() => hub.connections.isSubscribed(id, 'c2d'), 3000, 'the C2D subscription');
      expect(hub.connections.current(id)).toBeDefined();
    } finally {
      hub.events.off('telemetry', listener);
      await client.close();
    }
  });

  it('closes a connection that stays silent past 1.5 × its keep-alive', { timeout: 8000 }, async () => {
    const id = 'dev-silent';
    await createDevice(hub, id);
    const { connect } = await import('node:tls');
    const mqttPacket = (await import('mqtt-packet')).default;
    const record = hub.registry.get(id);
    const { createSasToken } = await import('../protocol/sas.js');
    const socket = connect({ host: hub.options.host, port: hub.mqttPort, ca: hub.ca });
    socket.on('error', () => undefined);
    socket.resume(); // a paused socket would never see the hub's close
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: 1,
        clientId: id,
        username: `${hub.hostName}/${id}/?api-version=2021-04-12`,
        password: Buffer.from(
          createSasToken(`${hub.hostName}/devices/${id}`, record.authentication.symmetricKey.primaryKey!, Math.floor(Date.now() / 1000) + 60),
        ),
      }),
    );
    const started = Date.now();
    await new Promise((resolve) => socket.once('close', resolve));
    const elapsed = Date.now() - started;
    socket.destroy();
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(3000);
  });
});

describe('Will messages', () => {
  it('forwards the Will as telemetry marked iothub-MessageType=Will when the connection drops', async () => {
    const id = 'dev-will';
    await createDevice(hub, id);
    const seen: Record<string, string | null>[] = [];
    const listener = (e: { deviceId: string; properties: Record<string, string | null> }): void => {
      if (e.deviceId === id) seen.push(e.properties);
    };
    hub.events.on('telemetry', listener);
    try {
      const client = await dropWithWill(hub, id);
      await waitUntil(() => seen.length > 0, 3000, 'the Will');
      expect(seen[0]).toMatchObject({ 'iothub-MessageType': 'Will' });
      client.end(true);
    } finally {
      hub.events.off('telemetry', listener);
    }
  });
});
