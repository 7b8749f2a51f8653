import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { closed, connectRaw } from './support/raw-device.js';
import { createDevice, openDevice, registryFor, waitFor, type TransportName } from './support/sdk.js';

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
      const service = (await registry.getTwin(id)).responseBody;
      expect(service.connectionState).toBe('Connected');
      expect(service.lastActivityTime).not.toBe('0001-01-01T00:00:00Z');
    } finally {
      await client.close();
    }
    await waitFor(async () => (await registry.getTwin(id)).responseBody.connectionState === 'Disconnected', 3000, 'Disconnected');
  });

  it('reports properties that the service sees, with $version moving by one', async () => {
    const id = `dev-rep-${transport}`;
    const client = await openDevice(await createDevice(hub, id), transport);
    try {
      const twin = await client.getTwin();
      await new Promise<void>((resolve, reject) => twin.properties.reported.update({ doorState: 'locked', fw: { v: '1.0' } }, (e?: Error) => (e ? reject(e) : resolve())));
      await new Promise<void>((resolve, reject) => twin.properties.reported.update({ fw: null }, (e?: Error) => (e ? reject(e) : resolve())));
      const reported = (await registry.getTwin(id)).responseBody.properties.reported;
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
      await waitFor(() => seen.length === 1, 3000, 'the initial desired event');
      await waitFor(() => hub.connections.isSubscribed(id, 'desired'), 3000, 'desired subscription');

      await registry.updateTwin(id, { properties: { desired: { interval: 10 } } }, '*');
      await waitFor(() => seen.some((d) => d.interval === 10), 3000, 'first desired patch');
      expect(seen.at(-1)).toEqual({ interval: 10, $version: 2 });

      const serviceTwin = (await registry.getTwin(id)).responseBody;
      await serviceTwin.update({ properties: { desired: { interval: null, mode: 'eco' } } });
      await waitFor(() => seen.some((d) => d.mode === 'eco'), 3000, 'second desired patch');
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
    await waitFor(async () => (await registry.getTwin(id)).responseBody.connectionState === 'Disconnected', 3000, 'Disconnected');
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
      expect((await registry.getTwin(id)).responseBody.connectionState).toBe('Connected');
    } finally {
      await second.endAsync();
    }
  });
});
