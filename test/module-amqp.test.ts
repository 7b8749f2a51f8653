import { earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import type { Connection, Receiver, Sender } from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { findPolicy } from '../emulator/identity/policies.js';
import { monitorEvent } from '../emulator/remote/monitor-format.js';
import { createSasToken } from '../protocol/sas.js';
import { amqpTransports, collect, consumerFor, type AmqpTransportName } from './support/amqp.js';
import { attached, closedConnection, detachedWith, putToken, rawAmqp, waitSendable } from './support/amqp-raw.js';
import { openDevice, registryFor, rest, serviceClientFor, type TwinJson } from './support/sdk.js';
import { closed, connectRawModule } from './support/raw-device.js';
import { createModule, ModuleClient, openModule } from './support/modules.js';
import { waitUntil } from './support/wait.js';
import { startTestHub } from './support/hub-factory.js';

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

const moduleState = async (deviceId: string, moduleId: string): Promise<string | undefined> =>
  ((await registry.getModule(deviceId, moduleId)).responseBody as TwinJson).connectionState;

const hourFromNow = (): number => Math.floor(Date.now() / 1000) + 3600;

function moduleToken(deviceId: string, moduleId: string, key = hub.registry.getModule(deviceId, moduleId).authentication.symmetricKey.primaryKey!): string {
  return createSasToken(`${hub.hostName}/devices/${deviceId}/modules/${moduleId}`, key, hourFromNow());
}

function deviceToken(deviceId: string): string {
  return createSasToken(`${hub.hostName}/devices/${deviceId}`, hub.registry.find(deviceId)!.authentication.symmetricKey.primaryKey!, hourFromNow());
}

/** A raw AMQP connection holding the module's own claim, as the SDK puts it on $cbs. */
async function rawModule(deviceId: string, moduleId: string): Promise<Connection> {
  const connection = await rawAmqp(hub);
  const answer = await putToken(connection, encodeURIComponent(`${hub.hostName}/devices/${deviceId}/modules/${moduleId}`), moduleToken(deviceId, moduleId));
  expect(answer.status).toBe(200);
  return connection;
}

/**
 * How the hub answered an attach: 'attached', or the error it detached the link with. A refused
 * link is attached and then detached; a $cbs round trip after the attach proves any detach has
 * arrived (the hub answers frames on a connection in order).
 */
async function attachOutcome(connection: Connection, link: Sender | Receiver): Promise<string> {
  const refused = detachedWith(link).then((e) => e.condition);
  const outcome = await Promise.race([attached(link).then(() => 'attached'), refused]);
  if (outcome !== 'attached') return outcome;
  await putToken(connection, 'no-such-audience', 'not a token');
  return Promise.race([refused, Promise.resolve('attached')]);
}

describe.each<AmqpTransportName>(['Amqp', 'AmqpWs'])('azure-iot-device ModuleClient over %s', (transport) => {
  it('opens through $cbs with the module token, is Connected on the module only, reads its twin and reports properties the service sees', async () => {
    const deviceId = `ma-twin-${transport}`;
    const client = await openModule(await createModule(hub, deviceId, 'm'), transport);
    try {
      await registry.updateModuleTwin(deviceId, 'm', { properties: { desired: { rate: 7 } } }, '*');
      const twin = await client.getTwin();
      expect(twin.properties.desired).toMatchObject({ rate: 7, $version: 2 });
      expect(await moduleState(deviceId, 'm')).toBe('Connected');
      expect(((await registry.getTwin(deviceId)).responseBody as TwinJson).connectionState).toBe('Disconnected');
      expect(hub.recording.entries({ kind: 'connection', deviceId }).at(-1)).toMatchObject({
        moduleId: 'm',
        transport: transport === 'Amqp' ? 'amqp' : 'amqp-ws',
      });
      await new Promise<void>((resolve, reject) => twin.properties.reported.update({ level: 3 }, (error?: Error) => (error ? reject(error) : resolve())));
      const seen = (await registry.getModuleTwin(deviceId, 'm')).responseBody as TwinJson;
      expect(seen.properties.reported).toMatchObject({ level: 3, $version: 2 });
      // The device's own twin is untouched.
      expect(((await registry.getTwin(deviceId)).responseBody as TwinJson).properties.reported.$version).toBe(1);
    } finally {
      await client.close();
    }
    await expect.poll(() => moduleState(deviceId, 'm'), { timeout: 5000 }).toBe('Disconnected');
  });

  it('receives a desired-property notification for its own twin', async () => {
    const deviceId = `ma-desired-${transport}`;
    const client = await openModule(await createModule(hub, deviceId, 'm'), transport);
    try {
      const twin = await client.getTwin();
      const patches: Record<string, unknown>[] = [];
      twin.on('properties.desired', (patch: Record<string, unknown>) => patches.push(patch));
      await waitUntil(() => patches.length >= 1, 5000, 'the initial desired callback');
      await waitUntil(() => hub.amqpDevices.isSubscribed(`${deviceId}/m`, 'desired'), 5000, 'the desired subscription');
      await registry.updateModuleTwin(deviceId, 'm', { properties: { desired: { mode: 'eco' } } }, '*');
      await waitUntil(() => patches.some((p) => p.mode === 'eco'), 5000, 'the desired patch');
      expect(patches.find((p) => p.mode === 'eco')).toMatchObject({ mode: 'eco', $version: 2 });
    } finally {
      await client.close();
    }
  });

  it('answers Client.invokeDeviceMethod(deviceId, moduleId, …); once closed the module is 404103 DeviceNotOnline', async () => {
    const deviceId = `ma-method-${transport}`;
    const client = await openModule(await createModule(hub, deviceId, 'm'), transport);
    try {
      client.onMethod('lockDoor', (request, response) => {
        void response!.send(200, { locked: true, echo: request!.payload });
      });
      await waitUntil(() => hub.amqpDevices.isSubscribed(`${deviceId}/m`, 'methods'), 5000, 'the method links');
      const result = await service.invokeDeviceMethod(deviceId, 'm', { methodName: 'lockDoor', payload: { door: 1 }, responseTimeoutInSeconds: 10 });
      expect(result.result).toEqual({ status: 200, payload: { locked: true, echo: { door: 1 } } });
      // The device itself has no method links: its own call does not reach the module.
      const deviceCall = await rest(hub, 'POST', `/twins/${deviceId}/methods?api-version=2021-04-12`, { methodName: 'lockDoor', connectTimeoutInSeconds: 0 });
      expect(deviceCall.status).toBe(404);
    } finally {
      await client.close();
    }
    await expect.poll(() => moduleState(deviceId, 'm'), { timeout: 5000 }).toBe('Disconnected');
    const offline = await rest(hub, 'POST', `/twins/${deviceId}/modules/m/methods?api-version=2021-04-12`, {
      methodName: 'lockDoor',
      connectTimeoutInSeconds: 0,
    });
    expect(offline.status).toBe(404);
    expect(offline.headers.get('iothub-errorcode')).toBe('DeviceNotOnline');
    expect(JSON.parse(offline.json.Message).errorCode).toBe(404103);
  });

  it('sends telemetry that the Event Hubs-compatible endpoint delivers with iothub-connection-module-id', async () => {
    const deviceId = `ma-tel-${transport}`;
    const client = await openModule(await createModule(hub, deviceId, 'm'), transport);
    const consumer = consumerFor(hub);
    try {
      // Its input link shares the telemetry address; it attaches and stays empty (docs/protocol.md §12.3).
      const inputs: unknown[] = [];
      client.on('inputMessage', (name: string) => inputs.push(name));
      await waitUntil(() => hub.amqpDevices.isSubscribed(`${deviceId}/m`, 'inputs'), 5000, 'the input link');
      const message = new Message(JSON.stringify({ t: 21 }));
      message.messageId = `mid-${transport}`;
      message.properties.add('kind', 'module');
      await client.sendEvent(message);
      const events = await collect(consumer, earliestEventPosition, (all) => all.some((e) => e.messageId === `mid-${transport}`));
      const event = events.find((e) => e.messageId === `mid-${transport}`) as ReceivedEventData;
      expect(event.body).toEqual({ t: 21 });
      expect(event.properties).toMatchObject({ kind: 'module' });
      expect(event.systemProperties).toMatchObject({
        'iothub-connection-device-id': deviceId,
        'iothub-connection-module-id': 'm',
        'iothub-connection-auth-generation-id': hub.registry.getModule(deviceId, 'm').generationId,
        'iothub-message-source': 'Telemetry',
      });
      expect(JSON.parse(String(event.systemProperties!['iothub-connection-auth-method']))).toMatchObject({ scope: 'module', type: 'sas', issuer: 'iothub' });
      expect(inputs).toEqual([]);
      const recorded = hub.recording.telemetry({ deviceId }).at(-1)!;
      expect(recorded).toMatchObject({ deviceId, moduleId: 'm' });
      // The monitor prints it as monitor-events prints a module's message.
      expect(monitorEvent(recorded, 'hub').event).toMatchObject({ origin: deviceId, module: 'm', annotations: { 'iothub-connection-module-id': 'm' } });
    } finally {
      await consumer.close();
      await client.close();
    }
  });
});

describe('module telemetry over MQTT', () => {
  it('reaches the Event Hubs-compatible endpoint with the same module annotations as over AMQP', async () => {
    const deviceId = 'ma-tel-mqtt';
    const client = ModuleClient.fromConnectionString(await createModule(hub, deviceId, 'm'), deviceMqtt.Mqtt);
    await client.open();
    const consumer = consumerFor(hub);
    try {
      const message = new Message('{"t":22}');
      message.messageId = 'mid-mqtt-module';
      await client.sendEvent(message);
      const events = await collect(consumer, earliestEventPosition, (all) => all.some((e) => e.messageId === 'mid-mqtt-module'));
      const event = events.find((e) => e.messageId === 'mid-mqtt-module') as ReceivedEventData;
      expect(event.systemProperties).toMatchObject({
        'iothub-connection-device-id': deviceId,
        'iothub-connection-module-id': 'm',
        'iothub-connection-auth-generation-id': hub.registry.getModule(deviceId, 'm').generationId,
      });
      expect(JSON.parse(String(event.systemProperties!['iothub-connection-auth-method']))).toMatchObject({ scope: 'module' });
    } finally {
      await consumer.close();
      await client.close();
    }
  });
});

describe('AMQP module credentials', () => {
  it('accepts the module key and a DeviceConnect policy for the module audience; refuses the device key, a sibling key and unknown modules', async () => {
    await createModule(hub, 'ma-cbs', 'a');
    await createModule(hub, 'ma-cbs', 'b');
    const audience = encodeURIComponent(`${hub.hostName}/devices/ma-cbs/modules/a`);
    const connection = await rawAmqp(hub);
    try {
      const deviceKey = hub.registry.find('ma-cbs')!.authentication.symmetricKey.primaryKey!;
      const keyB = hub.registry.getModule('ma-cbs', 'b').authentication.symmetricKey.primaryKey!;
      expect((await putToken(connection, audience, moduleToken('ma-cbs', 'a', deviceKey))).status).toBe(401);
      expect((await putToken(connection, audience, moduleToken('ma-cbs', 'a', keyB))).status).toBe(401);
      const unknown = await putToken(
        connection,
        encodeURIComponent(`${hub.hostName}/devices/ma-cbs/modules/none`),
        createSasToken(`${hub.hostName}/devices/ma-cbs/modules/none`, keyB, hourFromNow()),
      );
      expect(unknown).toMatchObject({ status: 401, description: expect.stringContaining('not registered') });
      // A device token never stands for its modules (nor its put-token for a module audience).
      expect((await putToken(connection, audience, deviceToken('ma-cbs'))).status).toBe(401);
      expect(
        (await putToken(connection, audience, moduleToken('ma-cbs', 'a', hub.registry.getModule('ma-cbs', 'a').authentication.symmetricKey.secondaryKey!)))
          .status,
      ).toBe(200);
      const policy = findPolicy('device')!;
      const policyToken = createSasToken(`${hub.hostName}/devices/ma-cbs/modules/b`, policy.primaryKey, hourFromNow(), 'device');
      expect((await putToken(connection, encodeURIComponent(`${hub.hostName}/devices/ma-cbs/modules/b`), policyToken)).status).toBe(200);
      await expect.poll(() => moduleState('ma-cbs', 'b'), { timeout: 5000 }).toBe('Connected');
    } finally {
      connection.close();
    }
    await expect.poll(() => moduleState('ma-cbs', 'a'), { timeout: 5000 }).toBe('Disconnected');
  });

  it('closes a module connection whose token lapses without renewal, as for devices', async () => {
    await createModule(hub, 'ma-expiry', 'm');
    const key = hub.registry.getModule('ma-expiry', 'm').authentication.symmetricKey.primaryKey!;
    const connection = await rawAmqp(hub);
    const dropped = closedConnection(connection);
    const shortLived = createSasToken(`${hub.hostName}/devices/ma-expiry/modules/m`, key, Math.floor(Date.now() / 1000) + 2);
    expect((await putToken(connection, encodeURIComponent(`${hub.hostName}/devices/ma-expiry/modules/m`), shortLived)).status).toBe(200);
    await expect.poll(() => moduleState('ma-expiry', 'm'), { timeout: 5000 }).toBe('Connected');
    expect(await dropped).toMatchObject({ condition: 'amqp:unauthorized-access' });
    await expect.poll(() => moduleState('ma-expiry', 'm'), { timeout: 5000 }).toBe('Disconnected');
  });

  it('takes a module token as a SASL PLAIN password, as for devices', async () => {
    await createModule(hub, 'ma-plain', 'm');
    const connection = await rawAmqp(hub, { username: 'ma-plain/modules/m@sas.emulator', password: moduleToken('ma-plain', 'm') });
    try {
      await expect.poll(() => moduleState('ma-plain', 'm'), { timeout: 5000 }).toBe('Connected');
      const twin = connection.open_receiver({ source: { address: '/devices/ma-plain/modules/m/twin' } });
      expect(await attachOutcome(connection, twin)).toBe('attached');
    } finally {
      connection.close();
    }
  });

  it('refuses a module of a disabled device at put-token; disabling or deleting the device, or removing the module, drops its AMQP connection', async () => {
    await createModule(hub, 'ma-disable', 'm');
    const connection = await rawModule('ma-disable', 'm');
    const dropped = closedConnection(connection);
    const record = (await registry.get('ma-disable')).responseBody as TwinJson;
    await registry.update({ ...record, status: 'disabled' } as never);
    expect(await dropped).toBeTruthy();
    await expect.poll(() => moduleState('ma-disable', 'm'), { timeout: 5000 }).toBe('Disconnected');
    const client = ModuleClient.fromConnectionString(hub.moduleConnectionString('ma-disable', 'm'), amqpTransports.Amqp);
    const error = await client.open().catch((e: Error) => e);
    expect((error as Error).constructor.name).toBe('UnauthorizedError');

    await createModule(hub, 'ma-delete', 'm');
    await createModule(hub, 'ma-delete', 'n');
    const removed = await rawModule('ma-delete', 'n');
    const removedClosed = closedConnection(removed);
    await registry.removeModule('ma-delete', 'n');
    expect(await removedClosed).toBeTruthy();
    const gone = await rawModule('ma-delete', 'm');
    const closed = closedConnection(gone);
    await registry.delete('ma-delete');
    expect(await closed).toBeTruthy();
  });
});

describe('AMQP module isolation', () => {
  it("lets a module attach only its own links: never its device's, a sibling's, or a C2D link", async () => {
    await createModule(hub, 'ma-iso', 'a');
    await createModule(hub, 'ma-iso', 'b');
    const outcomes: Record<string, string> = {};
    const attempt = async (address: string, as: 'receiver' | 'sender'): Promise<void> => {
      // A refused link is fatal for the SDKs, not for the hub: each attempt gets a connection of its own.
      const connection = await rawModule('ma-iso', 'a');
      try {
        const link = as === 'receiver' ? connection.open_receiver({ source: { address } }) : connection.open_sender({ target: { address } });
        outcomes[`${as} ${address}`] = await attachOutcome(connection, link);
      } finally {
        connection.close();
      }
    };
    await attempt('/devices/ma-iso/modules/a/twin', 'receiver');
    await attempt('/devices/ma-iso/modules/a/methods/devicebound', 'sender');
    await attempt('/devices/ma-iso/modules/a/messages/events', 'sender');
    await attempt('/devices/ma-iso/modules/a/messages/events', 'receiver');
    await attempt('/devices/ma-iso/twin', 'receiver');
    await attempt('/devices/ma-iso/methods/devicebound', 'receiver');
    await attempt('/devices/ma-iso/messages/events', 'sender');
    await attempt('/devices/ma-iso/messages/devicebound', 'receiver');
    await attempt('/devices/ma-iso/modules/b/twin', 'receiver');
    await attempt('/devices/ma-iso/modules/b/methods/devicebound', 'sender');
    await attempt('/devices/ma-iso/modules/b/messages/events', 'sender');
    // Modules have no cloud-to-device queue: there is no such address.
    await attempt('/devices/ma-iso/modules/a/messages/devicebound', 'receiver');
    expect(outcomes).toEqual({
      'receiver /devices/ma-iso/modules/a/twin': 'attached',
      'sender /devices/ma-iso/modules/a/methods/devicebound': 'attached',
      'sender /devices/ma-iso/modules/a/messages/events': 'attached',
      'receiver /devices/ma-iso/modules/a/messages/events': 'attached',
      'receiver /devices/ma-iso/twin': 'amqp:unauthorized-access',
      'receiver /devices/ma-iso/methods/devicebound': 'amqp:unauthorized-access',
      'sender /devices/ma-iso/messages/events': 'amqp:unauthorized-access',
      'receiver /devices/ma-iso/messages/devicebound': 'amqp:unauthorized-access',
      'receiver /devices/ma-iso/modules/b/twin': 'amqp:unauthorized-access',
      'sender /devices/ma-iso/modules/b/methods/devicebound': 'amqp:unauthorized-access',
      'sender /devices/ma-iso/modules/b/messages/events': 'amqp:unauthorized-access',
      'receiver /devices/ma-iso/modules/a/messages/devicebound': 'amqp:not-found',
    });
  });

  it("does not let a device's credential attach its modules' links", async () => {
    await createModule(hub, 'ma-devcred', 'm');
    const connection = await rawAmqp(hub);
    try {
      expect((await putToken(connection, encodeURIComponent(`${hub.hostName}/devices/ma-devcred`), deviceToken('ma-devcred'))).status).toBe(200);
      const link = connection.open_receiver({ source: { address: '/devices/ma-devcred/modules/m/twin' } });
      expect(await attachOutcome(connection, link)).toBe('amqp:unauthorized-access');
    } finally {
      connection.close();
    }
  });

  it('keeps a device and two modules apart over AMQP: methods, desired notifications, twins', async () => {
    const deviceId = 'ma-apart';
    await registry.create({ deviceId });
    const deviceClient = await openDevice(hub.deviceConnectionString(deviceId));
    const a = await openModule(await createModule(hub, deviceId, 'a'), 'Amqp');
    const b = await openModule(await createModule(hub, deviceId, 'b'), 'AmqpWs');
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
        () => hub.connections.isSubscribed(deviceId, 'methods') && [`${deviceId}/a`, `${deviceId}/b`].every((k) => hub.amqpDevices.isSubscribed(k, 'methods')),
        5000,
        'method links',
      );
      expect((await service.invokeDeviceMethod(deviceId, 'a', { methodName: 'who', payload: null })).result).toMatchObject({ payload: 'a' });
      expect((await service.invokeDeviceMethod(deviceId, { methodName: 'who', payload: null })).result).toMatchObject({ payload: 'device' });
      expect((await service.invokeDeviceMethod(deviceId, 'b', { methodName: 'who', payload: null })).result).toMatchObject({ payload: 'b' });
      await waitUntil(() => calls.length === 3, 5000, 'three answers');
      expect(calls).toEqual(['a', 'device', 'b']);

      await waitUntil(() => [`${deviceId}/a`, `${deviceId}/b`].every((k) => hub.amqpDevices.isSubscribed(k, 'desired')), 5000, 'desired subscriptions');
      await registry.updateModuleTwin(deviceId, 'a', { properties: { desired: { only: 'a' } } }, '*');
      await waitUntil(() => desired.a.length === 2, 5000, "a's notification");
      await registry.updateTwin(deviceId, { properties: { desired: { only: 'device' } } }, '*');
      await waitUntil(() => desired.device.length === 2, 5000, "the device's notification");
      // b last: once b has its own, a stray notification for b would have arrived before it.
      await registry.updateModuleTwin(deviceId, 'b', { properties: { desired: { only: 'b' } } }, '*');
      await waitUntil(() => desired.b.length === 2, 5000, "b's notification");
      expect(desired.a).toHaveLength(2);
      expect(desired.device).toHaveLength(2);
      expect(desired.a[1]).toMatchObject({ only: 'a' });
      expect(desired.b[1]).toMatchObject({ only: 'b' });
      expect((await a.getTwin()).properties.desired).toMatchObject({ only: 'a' });
    } finally {
      await Promise.all([deviceClient.close(), a.close(), b.close()]);
    }
  });

  it('refuses cloud-to-device messages addressed to a module, as modules have none', async () => {
    await createModule(hub, 'ma-c2d', 'm');
    // azure-iothub Client.send takes a device id only; a module path in it names no device.
    const error = await service.send('ma-c2d/modules/m', 'hello').catch((e: Error) => e);
    expect((error as Error).constructor.name).toBe('DeviceNotFoundError');
    // A raw sender with a module's address in `to`.
    const connection = await rawAmqp(hub);
    try {
      const policy = findPolicy('iothubowner')!;
      expect((await putToken(connection, hub.hostName, createSasToken(hub.hostName, policy.primaryKey, hourFromNow(), 'iothubowner'))).status).toBe(200);
      const sender = await attached(connection.open_sender({ target: { address: '/messages/devicebound' } }));
      await waitSendable(sender);
      const outcome = await new Promise<string>((resolve) => {
        sender.once('accepted', () => resolve('accepted'));
        sender.once('rejected', (context) =>
          resolve(String((context.delivery as unknown as { remote_state?: { error?: { condition?: string } } }).remote_state?.error?.condition)),
        );
        sender.send({ to: '/devices/ma-c2d/modules/m/messages/devicebound', body: 'hello' });
      });
      expect(outcome).toBe('com.microsoft:argument-error');
    } finally {
      connection.close();
    }
  });
});

describe('one connection per module identity', () => {
  it('a newer AMQP or MQTT connection of a module drops the older one, whichever protocol; its device and sibling stay connected', async () => {
    const deviceId = 'ma-once';
    await createModule(hub, deviceId, 'a');
    const sibling = await openModule(await createModule(hub, deviceId, 'b'), 'Amqp');
    // The device itself on a bare AMQP connection (no reconnects): a module's MQTT connection must never replace it.
    const deviceConnection = await rawAmqp(hub);
    expect((await putToken(deviceConnection, encodeURIComponent(`${hub.hostName}/devices/${deviceId}`), deviceToken(deviceId))).status).toBe(200);
    const reasons = (): (string | undefined)[] =>
      hub.recording
        .connections({ deviceId })
        .filter((e) => e.moduleId === 'a' && e.event === 'disconnected')
        .map((e) => e.reason);
    try {
      const first = await rawModule(deviceId, 'a');
      const firstClosed = closedConnection(first);
      const second = await rawModule(deviceId, 'a');
      expect(await firstClosed).toBeTruthy();
      expect(await moduleState(deviceId, 'a')).toBe('Connected');

      // Over MQTT (a bare mqtt.js client that does not reconnect, so the two never take turns).
      const secondClosed = closedConnection(second);
      const overMqtt = await connectRawModule(hub, deviceId, 'a');
      expect(await secondClosed).toBeTruthy();
      await waitUntil(() => reasons().includes('connected again over MQTT'), 5000, 'the AMQP connection replaced over MQTT');
      expect(await moduleState(deviceId, 'a')).toBe('Connected');

      // And back over AMQP.
      const mqttClosed = closed(overMqtt, 5000);
      const third = await rawModule(deviceId, 'a');
      try {
        expect(await mqttClosed).toBe(true);
        await waitUntil(() => reasons().includes('connected again over AMQP'), 5000, 'the MQTT connection replaced over AMQP');
        expect(hub.connections.current(`${deviceId}/a`)).toBeUndefined();
        expect(await moduleState(deviceId, 'a')).toBe('Connected');
      } finally {
        third.close();
      }
      expect(await moduleState(deviceId, 'b')).toBe('Connected');
      expect(((await registry.getTwin(deviceId)).responseBody as TwinJson).connectionState).toBe('Connected');
      expect(deviceConnection.is_open()).toBe(true);
      expect(hub.recording.connections({ deviceId }).filter((e) => e.moduleId === undefined && e.event === 'disconnected')).toEqual([]);
    } finally {
      deviceConnection.close();
      await sibling.close();
    }
  });
});
