import type device from 'azure-iot-device';
import { Message } from 'azure-iot-device';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Hub } from '../cli/start-hub.js';
import { openAmqpDevice, type AmqpTransportName } from './support/amqp.js';
import { c2dMessage, eventually, openServiceClient, type ServiceClientInstance } from './support/c2d.js';
import { startTestHub } from './support/hub-factory.js';
import { createDevice, registryFor, rest, serviceClientFor } from './support/sdk.js';
import { rawAmqp } from './support/amqp-raw.js';
import { createSasToken } from '../protocol/sas.js';
import type { EventContext } from 'rhea';

let hub: Hub;
let service: ServiceClientInstance;
beforeAll(async () => {
  hub = await startTestHub();
  ({ client: service } = await openServiceClient(hub));
});
afterAll(async () => {
  await service?.close();
  await hub?.stop();
});

type DeviceClient = InstanceType<typeof device.Client>;

/** A device on AMQP with every feature in use, as the SDK e2e disconnect tests have it: twin notifications, a method, C2D. */
async function busyDevice(id: string, transport: AmqpTransportName) {
  const client = await openAmqpDevice(await createDevice(hub, id), transport);
  const desired: Record<string, unknown>[] = [];
  const c2d: string[] = [];
  const twin = await client.getTwin();
  twin.on('properties.desired', (patch: Record<string, unknown>) => desired.push(patch));
  client.onDeviceMethod('lockDoor', (request, response) => void response.send(200, { locked: true, echo: request.payload }));
  client.on('message', (message: InstanceType<typeof device.Message>) => {
    c2d.push(message.getData().toString());
    void client.complete(message);
  });
  return { client, twin, desired, c2d };
}

/** Every service reaches the device: a desired patch, a method call and a C2D message (waiting out a reconnect). */
async function served(id: string, device: Awaited<ReturnType<typeof busyDevice>>, tag: string): Promise<void> {
  const registry = registryFor(hub);
  // The SDK subscribes when the listener is added (and again after a reconnect): patch until a notification shows it.
  await eventually(
    async () => {
      await registry.updateTwin(id, { properties: { desired: { tag } } }, '*');
      return device.desired.some((p) => p.tag === tag);
    },
    30_000,
    `a desired notification (${tag})`,
  );
  const { result } = (await serviceClientFor(hub).invokeDeviceMethod(id, {
    methodName: 'lockDoor',
    payload: tag,
    responseTimeoutInSeconds: 10,
    connectTimeoutInSeconds: 30,
  })) as unknown as { result: { status: number; payload: unknown } };
  expect(result).toEqual({ status: 200, payload: { locked: true, echo: tag } });
  await service.send(id, c2dMessage(`c2d-${tag}`));
  await vi.waitFor(() => expect(device.c2d).toContain(`c2d-${tag}`), { timeout: 30_000, interval: 50 });
}

function faultMessage(kind: string, delaySeconds: number, durationSeconds?: number): Message {
  const message = new Message(' ');
  message.properties.add('AzIoTHub_FaultOperationType', kind);
  message.properties.add('AzIoTHub_FaultOperationCloseReason', ` ${kind} by the test `);
  message.properties.add('AzIoTHub_FaultOperationDelayInSecs', String(delaySeconds));
  if (durationSeconds !== undefined) message.properties.add('AzIoTHub_FaultOperationDurationInSecs', String(durationSeconds));
  return message;
}

function recorded(id: string, since: number, kind: 'connection' | 'fault'): { event: string; what?: string; time: number }[] {
  return hub.recording.entries({ kind, deviceId: id, since }).map((e) => ({ event: e.event, what: (e as { what?: string }).what, time: Date.parse(e.time) }));
}

const connectionKinds = ['KillTcp', 'KillAmqpConnection', 'ShutDownAmqp'] as const;
const sessionAndLinkKinds = [
  'KillAmqpSession',
  'KillAmqpCBSLinkReq',
  'KillAmqpCBSLinkResp',
  'KillAmqpD2CLink',
  'KillAmqpC2DLink',
  'KillAmqpTwinLinkReq',
  'KillAmqpTwinLinkResp',
  'KillAmqpMethodReqLink',
  'KillAmqpMethodRespLink',
] as const;

describe('faults an AMQP device asks for (AzIoTHub_FaultOperationType)', () => {
  const cases: [AmqpTransportName, string][] = [
    ...[...connectionKinds, ...sessionAndLinkKinds].map((kind): [AmqpTransportName, string] => ['Amqp', kind]),
    // Over WebSocket the same code paths run; one of each level.
    ['AmqpWs', 'KillTcp'],
    ['AmqpWs', 'ShutDownAmqp'],
    ['AmqpWs', 'KillAmqpSession'],
    ['AmqpWs', 'KillAmqpTwinLinkResp'],
  ];

  it.each(cases)(
    '%s device sending %s is dropped after the delay, recovers by itself and loses no desired patch, method or C2D message',
    async (transport, kind) => {
      const id = `afault-${transport}-${kind}`;
      const busy = await busyDevice(id, transport);
      try {
        await served(id, busy, 'before');
        const since = hub.recording.lastSeq;
        const sentAt = Date.now();
        const duration = (connectionKinds as readonly string[]).includes(kind) ? 2 : undefined;
        await busy.client.sendEvent(faultMessage(kind, 1, duration));
        // The hub acts after the delay, on this device's connection.
        await vi.waitFor(() => expect(recorded(id, since, 'fault').map((e) => e.what)).toContain(`${kind} requested by the device`), {
          timeout: 10_000,
          interval: 50,
        });
        const applied = recorded(id, since, 'fault').find((e) => e.what === `${kind} requested by the device`)!;
        expect(applied.time - sentAt).toBeGreaterThanOrEqual(900);
        if (duration) {
          // Dropped, its reconnects refused while the fault lasts, then back by itself.
          await vi.waitFor(() => expect(recorded(id, since, 'connection').map((e) => e.event)).toEqual(['disconnected', 'connected']), {
            timeout: 30_000,
            interval: 100,
          });
          const [dropped, back] = recorded(id, since, 'connection');
          expect(back.time - dropped.time).toBeGreaterThanOrEqual(1500);
        }
        // What the service does meanwhile is not lost: it arrives once the device is back.
        await registryFor(hub).updateTwin(id, { properties: { desired: { during: kind } } }, '*');
        await service.send(id, c2dMessage(`c2d-during-${kind}`));
        const during = serviceClientFor(hub).invokeDeviceMethod(id, {
          methodName: 'lockDoor',
          payload: 'during',
          responseTimeoutInSeconds: 10,
          connectTimeoutInSeconds: 30,
        });
        expect(((await during) as unknown as { result: { status: number } }).result.status).toBe(200);
        await vi.waitFor(() => expect(busy.c2d).toContain(`c2d-during-${kind}`), { timeout: 30_000, interval: 50 });
        // A patch made while the device was away reaches it by the twin it reads back (the SDK re-subscribes, it does not replay).
        await vi.waitFor(async () => expect((await busy.twin.get()).properties.desired.during).toBe(kind), { timeout: 30_000, interval: 200 });
        await served(id, busy, 'after');
      } finally {
        await busy.client.close().catch(() => undefined);
      }
    },
    90_000,
  );

  it('only the connection that asked is touched; ShutDownMqtt over AMQP is ignored', async () => {
    const a = await busyDevice('afault-only-a', 'Amqp');
    const b = await busyDevice('afault-only-b', 'Amqp');
    try {
      await served('afault-only-b', b, 'before');
      const since = hub.recording.lastSeq;
      await a.client.sendEvent(faultMessage('ShutDownMqtt', 0));
      await a.client.sendEvent(faultMessage('KillAmqpConnection', 0));
      await vi.waitFor(() => expect(recorded('afault-only-a', since, 'connection').map((e) => e.event)).toContain('disconnected'), { timeout: 10_000 });
      expect(recorded('afault-only-a', since, 'fault').map((e) => e.what)).toEqual(['KillAmqpConnection requested by the device']);
      expect(recorded('afault-only-b', since, 'connection')).toEqual([]);
      await served('afault-only-b', b, 'unaffected');
    } finally {
      await a.client.close().catch(() => undefined);
      await b.client.close().catch(() => undefined);
    }
  }, 60_000);
});

describe('the chaos API reaches AMQP devices', () => {
  it('drops AMQP connections a rule names, refuses their connects for its duration, and a restart drops them too', async () => {
    const busy = await busyDevice('achaos-1', 'Amqp');
    const other = await busyDevice('aother-1', 'AmqpWs');
    try {
      await served('achaos-1', busy, 'before');
      const since = hub.recording.lastSeq;
      const dropped = await rest(hub, 'POST', '/$emulator/faults', { kind: 'dropConnections', target: { prefix: 'achaos-' }, durationSeconds: 2 });
      expect(dropped.status).toBe(201);
      expect(dropped.json.affected).toEqual(['achaos-1']);
      await vi.waitFor(() => expect(recorded('achaos-1', since, 'connection').map((e) => e.event)).toEqual(['disconnected', 'connected']), {
        timeout: 30_000,
        interval: 100,
      });
      const [gone, back] = recorded('achaos-1', since, 'connection');
      expect(back.time - gone.time).toBeGreaterThanOrEqual(1500);
      expect(recorded('achaos-1', since, 'fault').some((e) => e.what === 'connect refused (AMQP, as CONNACK 3)')).toBe(true);
      expect(recorded('aother-1', since, 'connection')).toEqual([]);
      await served('achaos-1', busy, 'after-drop');

      const restartSince = hub.recording.lastSeq;
      const restart = await rest(hub, 'POST', '/$emulator/faults', { kind: 'restart', durationSeconds: 1 });
      expect(restart.json.affected).toEqual(expect.arrayContaining(['achaos-1', 'aother-1']));
      for (const id of ['achaos-1', 'aother-1']) {
        await vi.waitFor(() => expect(recorded(id, restartSince, 'connection').map((e) => e.event)).toEqual(['disconnected', 'connected']), {
          timeout: 30_000,
          interval: 100,
        });
      }
      await served('achaos-1', busy, 'after-restart');
      await served('aother-1', other, 'after-restart');
    } finally {
      await busy.client.close().catch(() => undefined);
      await other.client.close().catch(() => undefined);
    }
  }, 90_000);

  it('gates a device that connects with SASL PLAIN as it gates a put-token', async () => {
    await createDevice(hub, 'achaos-plain');
    const key = hub.registry.get('achaos-plain').authentication.symmetricKey.primaryKey!;
    const audience = `${hub.hostName}/devices/achaos-plain`;
    const options = { username: `achaos-plain@sas.${hub.hostName}`, password: createSasToken(audience, key, Math.floor(Date.now() / 1000) + 600) };
    const rule = await rest(hub, 'POST', '/$emulator/faults', { kind: 'refuseConnects', target: { deviceId: 'achaos-plain' }, connackCode: 5 });
    const refused = await rawAmqp(hub, options);
    const error = await new Promise<{ condition?: string }>((resolve) =>
      refused.once('connection_close', (c: EventContext) => resolve((c.connection.error ?? {}) as { condition?: string })),
    );
    expect(error.condition).toBe('amqp:unauthorized-access');
    await rest(hub, 'DELETE', `/$emulator/faults/${rule.json.id}`);
    const admitted = await rawAmqp(hub, options);
    await vi.waitFor(() => expect(hub.registry.get('achaos-plain').connectionState).toBe('Connected'));
    admitted.close();
  }, 30_000);

  it('holds the accept of AMQP telemetry under delayPubacks and loses it under dropTelemetry', async () => {
    const cs = await createDevice(hub, 'achaos-tele');
    const client: DeviceClient = await openAmqpDevice(cs);
    try {
      const held = await rest(hub, 'POST', '/$emulator/faults', { kind: 'delayPubacks', target: { deviceId: 'achaos-tele' }, fraction: 1, delayMs: 700 });
      const started = Date.now();
      await client.sendEvent(new Message('held'));
      expect(Date.now() - started).toBeGreaterThanOrEqual(650);
      await rest(hub, 'DELETE', `/$emulator/faults/${held.json.id}`);
      const since = hub.recording.lastSeq;
      const dropped = await rest(hub, 'POST', '/$emulator/faults', { kind: 'dropTelemetry', target: { deviceId: 'achaos-tele' }, fraction: 1 });
      await client.sendEvent(new Message('lost'));
      await rest(hub, 'DELETE', `/$emulator/faults/${dropped.json.id}`);
      await client.sendEvent(new Message('kept'));
      const telemetry = hub.recording.entries({ kind: 'telemetry', deviceId: 'achaos-tele', since }).map((e) => (e as { payload?: string }).payload);
      expect(telemetry).toEqual(['kept']);
      expect(recorded('achaos-tele', since, 'fault').some((e) => e.what === 'telemetry dropped')).toBe(true);
    } finally {
      await client.close().catch(() => undefined);
    }
  }, 30_000);

  it('a refuseConnects rule with an authorization code fails the open with UnauthorizedError; twin rules fail AMQP twin calls', async () => {
    const cs = await createDevice(hub, 'achaos-refused');
    const rule = await rest(hub, 'POST', '/$emulator/faults', { kind: 'refuseConnects', target: { deviceId: 'achaos-refused' }, connackCode: 5 });
    try {
      await expect(openAmqpDevice(cs)).rejects.toMatchObject({ name: 'UnauthorizedError' });
    } finally {
      await rest(hub, 'DELETE', `/$emulator/faults/${rule.json.id}`);
    }
    const client: DeviceClient = await openAmqpDevice(cs);
    try {
      const failing = await rest(hub, 'POST', '/$emulator/faults', {
        kind: 'failOperations',
        operation: 'twinRead',
        target: { deviceId: 'achaos-refused' },
        errorCode: 'ThrottlingException',
      });
      client.setRetryPolicy(new (await import('azure-iot-common')).NoRetry());
      // The device SDK wraps the twin error; the hub's answer (status 429) is its ThrottlingError.
      await expect(client.getTwin()).rejects.toMatchObject({ amqpError: { name: 'ThrottlingError' } });
      await rest(hub, 'DELETE', `/$emulator/faults/${failing.json.id}`);
      expect((await client.getTwin()).properties.desired).toBeDefined();
    } finally {
      await client.close().catch(() => undefined);
    }
  }, 60_000);
});
