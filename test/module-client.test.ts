import { earliestEventPosition } from '@azure/event-hubs';
import device from 'azure-iot-device';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { waitUntil } from './support/wait.js';
import { startTestHub } from './support/hub-factory.js';
import { closed, connectRawModule } from './support/raw-device.js';
import { createModule, openModule } from './support/modules.js';
import { collect, consumerFor } from './support/amqp.js';
import { partitionOf } from '../emulator/event-hubs/partitioner.js';
import { openDevice, registryFor, rest, serviceClientFor, type TransportName, type TwinJson } from './support/sdk.js';

const { Message } = device;

let hub: Hub;
let registry: ReturnType<typeof registryFor>;
let service: ReturnType<typeof serviceClientFor>;

beforeAll(async () => {
  hub = await startTestHub();
  registry = registryFor(hub);
  service = serviceClientFor(hub);
});
afterAll(() => hub?.stop());

describe.each<TransportName>(['Mqtt', 'MqttWs'])('azure-iot-device ModuleClient over %s', (transport) => {
  it('opens, shows Connected on the module (not the device), reads its twin and reports properties the service sees', async () => {
    const deviceId = `mc-twin-${transport}`;
    const client = await openModule(await createModule(hub, deviceId, 'm'), transport);
    try {
      await registry.updateModuleTwin(deviceId, 'm', { tags: { hidden: 1 }, properties: { desired: { rate: 7 } } }, '*');
      const twin = await client.getTwin();
      expect(twin.properties.desired.rate).toBe(7);
      expect(twin.properties.desired.$version).toBe(2);
      expect(twin.properties.desired).not.toHaveProperty('$metadata');
      const module = (await registry.getModule(deviceId, 'm')).responseBody as TwinJson;
      expect(module.connectionState).toBe('Connected');
      expect(((await registry.getTwin(deviceId)).responseBody as TwinJson).connectionState).toBe('Disconnected');
      await new Promise<void>((resolve, reject) => twin.properties.reported.update({ level: 3 }, (error?: Error) => (error ? reject(error) : resolve())));
      const seen = (await registry.getModuleTwin(deviceId, 'm')).responseBody as TwinJson;
      expect(seen.properties.reported).toMatchObject({ level: 3, $version: 2 });
      expect(((await registry.getTwin(deviceId)).responseBody as TwinJson).properties.reported.$version).toBe(1);
    } finally {
      await client.close();
    }
    await waitUntil(async () => ((await registry.getModule(deviceId, 'm')).responseBody as TwinJson).connectionState === 'Disconnected', 5000, 'Disconnected');
  });

  it('receives a desired-property notification for its own twin', async () => {
    const deviceId = `mc-desired-${transport}`;
    const client = await openModule(await createModule(hub, deviceId, 'm'), transport);
    try {
      const twin = await client.getTwin();
      const patches: Record<string, unknown>[] = [];
      twin.on('properties.desired', (patch: Record<string, unknown>) => patches.push(patch));
      await waitUntil(() => patches.length >= 1, 5000, 'the initial desired callback');
      await registry.updateModuleTwin(deviceId, 'm', { properties: { desired: { mode: 'eco' } } }, '*');
      await waitUntil(() => patches.some((p) => p.mode === 'eco'), 5000, 'the desired patch');
      expect(patches.find((p) => p.mode === 'eco')).toMatchObject({ mode: 'eco', $version: 2 });
    } finally {
      await client.close();
    }
  });

  it('answers a module direct method invoked with Client.invokeDeviceMethod(deviceId, moduleId, …)', async () => {
    const deviceId = `mc-method-${transport}`;
    const client = await openModule(await createModule(hub, deviceId, 'm'), transport);
    try {
      client.onMethod('lockDoor', (request, response) => {
        void response!.send(200, { locked: true, echo: request!.payload });
      });
      await waitUntil(() => hub.connections.isSubscribed(`${deviceId}/m`, 'methods'), 5000, 'the methods subscription');
      const result = await service.invokeDeviceMethod(deviceId, 'm', { methodName: 'lockDoor', payload: { door: 1 }, responseTimeoutInSeconds: 10 });
      expect(result.result).toEqual({ status: 200, payload: { locked: true, echo: { door: 1 } } });
    } finally {
      await client.close();
    }
  });

  it('sends telemetry on its module topic, marked with its module id', async () => {
    const deviceId = `mc-tel-${transport}`;
    const client = await openModule(await createModule(hub, deviceId, 'm'), transport);
    try {
      const seen: { deviceId: string; moduleId?: string; payload: Buffer }[] = [];
      const listener = (event: { deviceId: string; moduleId?: string; payload: Buffer }): void => void seen.push(event);
      hub.events.on('telemetry', listener);
      await client.sendEvent(new Message(JSON.stringify({ t: 21 })));
      await waitUntil(() => seen.some((e) => e.deviceId === deviceId), 5000, 'telemetry');
      hub.events.off('telemetry', listener);
      expect(seen.find((e) => e.deviceId === deviceId)).toMatchObject({ deviceId, moduleId: 'm' });
      // A back end reading the Event Hubs-compatible endpoint sees the module's own identity.
      const consumer = consumerFor(hub);
      try {
        const partitionId = String(partitionOf(deviceId, (await consumer.getPartitionIds()).length));
        const events = await collect(
          consumer,
          earliestEventPosition,
          (all) => all.some((e) => e.systemProperties?.['iothub-connection-device-id'] === deviceId),
          partitionId,
        );
        const event = events.find((e) => e.systemProperties?.['iothub-connection-device-id'] === deviceId)!;
        expect(event.body).toEqual({ t: 21 });
        expect(event.systemProperties).toMatchObject({
          'iothub-connection-module-id': 'm',
          'iothub-connection-auth-generation-id': hub.registry.getModule(deviceId, 'm').generationId,
        });
        expect(JSON.parse(String(event.systemProperties!['iothub-connection-auth-method']))).toMatchObject({ scope: 'module', type: 'sas' });
      } finally {
        await consumer.close();
      }
    } finally {
      await client.close();
    }
  });
});

describe('module methods and connections', () => {
  it('answers 404103 DeviceNotOnline for a module that is not connected, 404010 for an unknown one', async () => {
    await createModule(hub, 'mc-offline', 'm');
    const offline = await rest(hub, 'POST', '/twins/mc-offline/modules/m/methods?api-version=2021-04-12', {
      methodName: 'lockDoor',
      payload: null,
      responseTimeoutInSeconds: 5,
    });
    expect(offline.status).toBe(404);
    expect(offline.headers.get('iothub-errorcode')).toBe('DeviceNotOnline');
    expect(JSON.parse(offline.json.Message).errorCode).toBe(404103);
    const sdk = await service.invokeDeviceMethod('mc-offline', 'm', { methodName: 'lockDoor', payload: null, responseTimeoutInSeconds: 5 }).then(
      () => undefined,
      (error: Error) => error,
    );
    // The SDK maps 404103 to its DeviceNotFoundError only for device calls; for a module it is a plain Error carrying the response.
    expect((sdk as unknown as { response?: { statusCode: number } })?.response?.statusCode).toBe(404);
    const unknown = await rest(hub, 'POST', '/twins/mc-offline/modules/none/methods?api-version=2021-04-12', { methodName: 'x' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('iothub-errorcode')).toBe('ModuleNotFound');
  });

  it('times out a module that does not answer with 504 GatewayTimeout, as for a device', async () => {
    const client = await openModule(await createModule(hub, 'mc-slow', 'm'), 'Mqtt');
    try {
      client.onMethod('slow', () => undefined);
      await waitUntil(() => hub.connections.isSubscribed('mc-slow/m', 'methods'), 5000, 'the methods subscription');
      const response = await rest(hub, 'POST', '/twins/mc-slow/modules/m/methods?api-version=2021-04-12', { methodName: 'slow', responseTimeoutInSeconds: 5 });
      expect(response.status).toBe(504);
      expect(response.headers.get('iothub-errorcode')).toBe('GatewayTimeout');
    } finally {
      await client.close();
    }
  }, 20_000);

  it('keeps a device, its module and a sibling module apart: methods, desired notifications and twins', async () => {
    const deviceId = 'mc-iso';
    await registry.create({ deviceId });
    const deviceClient = await openDevice(hub.deviceConnectionString(deviceId));
    const a = await openModule(await createModule(hub, deviceId, 'a'), 'Mqtt');
    const b = await openModule(await createModule(hub, deviceId, 'b'), 'Mqtt');
    try {
      const calls: string[] = [];
      deviceClient.onDeviceMethod('who', (_req, res) => void res.send(200, 'device').then(() => calls.push('device')));
      a.onMethod('who', (_req, res) => void res!.send(200, 'a').then(() => calls.push('a')));
      b.onMethod('who', (_req, res) => void res!.send(200, 'b').then(() => calls.push('b')));
      const desired: Record<string, unknown[]> = { device: [], a: [], b: [] };
      (await deviceClient.getTwin()).on('properties.desired', (p: unknown) => desired.device.push(p));
      (await a.getTwin()).on('properties.desired', (p: unknown) => desired.a.push(p));
      (await b.getTwin()).on('properties.desired', (p: unknown) => desired.b.push(p));
      await waitUntil(() => ['device', 'a', 'b'].every((k) => desired[k].length === 1), 5000, 'initial desired callbacks');
      await waitUntil(
        () => [deviceId, `${deviceId}/a`, `${deviceId}/b`].every((k) => hub.connections.isSubscribed(k, 'methods')),
        5000,
        'method subscriptions',
      );

      expect((await service.invokeDeviceMethod(deviceId, 'a', { methodName: 'who', payload: null })).result).toMatchObject({ payload: 'a' });
      expect((await service.invokeDeviceMethod(deviceId, { methodName: 'who', payload: null })).result).toMatchObject({ payload: 'device' });
      expect((await service.invokeDeviceMethod(deviceId, 'b', { methodName: 'who', payload: null })).result).toMatchObject({ payload: 'b' });
      await waitUntil(() => calls.length === 3, 5000, 'three answers');
      expect(calls).toEqual(['a', 'device', 'b']);

      await registry.updateModuleTwin(deviceId, 'a', { properties: { desired: { only: 'a' } } }, '*');
      await waitUntil(() => desired.a.length === 2, 5000, "a's notification");
      await registry.updateTwin(deviceId, { properties: { desired: { only: 'device' } } }, '*');
      await waitUntil(() => desired.device.length === 2, 5000, "the device's notification");
      // One more change to b last: once b has it, any stray notification would have arrived first.
      await registry.updateModuleTwin(deviceId, 'b', { properties: { desired: { only: 'b' } } }, '*');
      await waitUntil(() => desired.b.length === 2, 5000, "b's notification");
      expect(desired.a[1]).toMatchObject({ only: 'a' });
      expect(desired.device[1]).toMatchObject({ only: 'device' });
      expect(desired.b[1]).toMatchObject({ only: 'b' });
      expect(desired.a).toHaveLength(2);
      expect(desired.device).toHaveLength(2);

      const twinA = await a.getTwin();
      expect(twinA.properties.desired).not.toHaveProperty('only', 'device');
    } finally {
      await Promise.all([deviceClient.close(), a.close(), b.close()]);
    }
  });

  it("closes a module connection that subscribes to its device's C2D or publishes to its device's or a sibling's topics", async () => {
    await createModule(hub, 'mc-raw', 'a');
    await createModule(hub, 'mc-raw', 'b');
    const c2d = await connectRawModule(hub, 'mc-raw', 'a');
    c2d.subscribe('devices/mc-raw/messages/devicebound/#');
    expect(await closed(c2d)).toBe(true);
    const deviceTopic = await connectRawModule(hub, 'mc-raw', 'a');
    deviceTopic.publish('devices/mc-raw/messages/events/', 'x', { qos: 1 });
    expect(await closed(deviceTopic)).toBe(true);
    const sibling = await connectRawModule(hub, 'mc-raw', 'a');
    sibling.publish('devices/mc-raw/modules/b/messages/events/', 'x', { qos: 1 });
    expect(await closed(sibling)).toBe(true);
    // Its own topics are fine, inputs included.
    const own = await connectRawModule(hub, 'mc-raw', 'a');
    try {
      await own.subscribeAsync('devices/mc-raw/modules/a/inputs/#');
      await own.publishAsync('devices/mc-raw/modules/a/messages/events/', 'ok', { qos: 1 });
      expect(own.connected).toBe(true);
    } finally {
      await own.endAsync();
    }
  });

  it('refuses a module token signed for another identity and a module of a disabled device', async () => {
    await createModule(hub, 'mc-auth', 'a');
    await createModule(hub, 'mc-auth', 'b');
    const keyB = hub.registry.getModule('mc-auth', 'b').authentication.symmetricKey.primaryKey!;
    // b's key signing a's resource: refused with CONNACK 5, which the SDK reports as UnauthorizedError.
    const wrong = `HostName=${hub.hostName};DeviceId=mc-auth;ModuleId=a;SharedAccessKey=${keyB}`;
    const error = await openModule(wrong, 'Mqtt').catch((e: Error) => e);
    expect(error?.constructor.name).toBe('UnauthorizedError');
    const connected = await connectRawModule(hub, 'mc-auth', 'a');
    const droppedWithDevice = closed(connected, 5000);
    const record = (await registry.get('mc-auth')).responseBody as TwinJson;
    await registry.update({ ...record, status: 'disabled' } as never);
    expect(await droppedWithDevice).toBe(true);
    await expect(connectRawModule(hub, 'mc-auth', 'b')).rejects.toThrow();
  });

  it('a second connection of the same module identity drops the first; the device and siblings stay connected', async () => {
    await createModule(hub, 'mc-twice', 'a');
    await createModule(hub, 'mc-twice', 'b');
    const sibling = await connectRawModule(hub, 'mc-twice', 'b');
    const first = await connectRawModule(hub, 'mc-twice', 'a');
    const firstClosed = closed(first);
    const second = await connectRawModule(hub, 'mc-twice', 'a');
    try {
      expect(await firstClosed).toBe(true);
      await second.subscribeAsync('$iothub/twin/res/#');
      const answer = new Promise<string>((resolve) => second.on('message', (topic) => resolve(topic)));
      await second.publishAsync('$iothub/twin/GET/?$rid=7', ' ');
      expect(await answer).toBe('$iothub/twin/res/200/?$rid=7');
      expect(sibling.connected).toBe(true);
      expect(((await registry.getModule('mc-twice', 'b')).responseBody as TwinJson).connectionState).toBe('Connected');
    } finally {
      await Promise.all([second.endAsync(), sibling.endAsync()]);
    }
  });
});
