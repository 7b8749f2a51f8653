import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import device from 'azure-iot-device';
import type { Hub } from '../emulator/hub.js';
import { c2dMessage, openServiceClient, type FeedbackLog, type ServiceClientInstance, eventually } from './support/c2d.js';
import { openAmqpDevice, type AmqpTransportName } from './support/amqp.js';
import { startTestHub } from './support/hub-factory.js';
import { JobClient, pollJob } from './support/job-helpers.js';
import { createDevice, openDevice, registryFor, serviceClientFor, type TwinJson } from './support/sdk.js';

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

describe.each<AmqpTransportName>(['Amqp', 'AmqpWs'])('an azure-iot-device client over %s', (transport) => {
  it('reads its twin, reports properties and gets desired notifications', async () => {
    const id = `amqp-twin-${transport}`;
    const client = await openAmqpDevice(await createDevice(hub, id), transport);
    try {
      const registry = registryFor(hub);
      await registry.updateTwin(id, { tags: { secret: 1 }, properties: { desired: { interval: 5 } } }, '*');
      const twin = await client.getTwin();
      expect(twin.properties.desired.interval).toBe(5);
      expect(twin.properties.desired.$version).toBe(2);
      expect(twin).not.toHaveProperty('tags.secret');
      await new Promise<void>((resolve, reject) => twin.properties.reported.update({ doorState: 'locked' }, (e?: Error) => (e ? reject(e) : resolve())));
      const reported = ((await registry.getTwin(id)).responseBody as TwinJson).properties.reported;
      expect(reported.doorState).toBe('locked');
      const deltas: Record<string, unknown>[] = [];
      twin.on('properties.desired', (delta: Record<string, unknown>) => deltas.push(delta));
      // The SDK subscribes (twin PUT) when the listener is added: patch until a notification shows it is in place.
      await eventually(
        async () => {
          await registry.updateTwin(id, { properties: { desired: { interval: deltas.length + 10 } } }, '*');
          return deltas.some((d) => typeof d.interval === 'number' && (d.interval as number) >= 10);
        },
        5000,
        'a desired notification',
      );
      const last = deltas.at(-1)!;
      expect(last.$version).toBeGreaterThan(2);
    } finally {
      await client.close();
    }
  });

  it('answers direct methods invoked with Client.invokeDeviceMethod', async () => {
    const id = `amqp-method-${transport}`;
    const client = await openAmqpDevice(await createDevice(hub, id), transport);
    try {
      client.onDeviceMethod('lockDoor', (request, response) => {
        void response.send(200, { locked: true, echo: request.payload });
      });
      const invoke = () =>
        serviceClientFor(hub).invokeDeviceMethod(id, {
          methodName: 'lockDoor',
          payload: { force: true },
          responseTimeoutInSeconds: 10,
          connectTimeoutInSeconds: 10,
        });
      const { result } = (await invoke()) as unknown as { result: { status: number; payload: unknown } };
      expect(result).toEqual({ status: 200, payload: { locked: true, echo: { force: true } } });
    } finally {
      await client.close();
    }
  });

  it('sends telemetry', async () => {
    const id = `amqp-telemetry-${transport}`;
    const client = await openAmqpDevice(await createDevice(hub, id), transport);
    try {
      const message = new device.Message('{"t":1}');
      message.properties.add('alert', 'yes');
      await client.sendEvent(message);
      const entry = await hub.recording.waitFor({ kind: 'telemetry', deviceId: id });
      expect(entry).toMatchObject({ payload: { t: 1 }, properties: { alert: 'yes' } });
    } finally {
      await client.close();
    }
  });

  it('receives C2D messages and completes, rejects and abandons them, with feedback', async () => {
    const id = `amqp-c2d-${transport}`;
    const client = await openAmqpDevice(await createDevice(hub, id), transport);
    try {
      const received: DeviceMessage[] = [];
      client.on('message', (m: DeviceMessage) => {
        received.push(m);
        const verdict = m.properties.getValue('verdict');
        if (verdict === 'complete') void client.complete(m);
        else if (verdict === 'reject') void client.reject(m);
        else void client.abandon(m);
      });
      const send = (messageId: string, verdict: string) =>
        service.send(id, c2dMessage(`body-${messageId}`, { messageId, ack: 'full', properties: { verdict } }));
      await send(`${transport}-ok`, 'complete');
      const ok = await eventually(() => feedback.records().find((r) => r.originalMessageId === `${transport}-ok`), 10_000, 'Success feedback');
      expect(ok.statusCode).toBe('Success');
      const first = received.find((m) => m.messageId === `${transport}-ok`)!;
      expect(first.getBytes().toString()).toBe(`body-${transport}-ok`);
      expect(first.ack).toBe('full');
      expect(first.to).toBe(`/devices/${id}/messages/devicebound`);
      await send(`${transport}-no`, 'reject');
      const no = await eventually(() => feedback.records().find((r) => r.originalMessageId === `${transport}-no`), 10_000, 'Rejected feedback');
      expect(no.statusCode).toBe('Rejected');
      await send(`${transport}-again`, 'abandon');
      const again = await eventually(
        () => feedback.records().find((r) => r.originalMessageId === `${transport}-again`),
        15_000,
        'DeliveryCountExceeded feedback',
      );
      expect(again.statusCode).toBe('DeliveryCountExceeded');
      expect(received.filter((m) => m.messageId === `${transport}-again`)).toHaveLength(10);
      expect(hub.c2d.pending(id)).toBe(0);
    } finally {
      await client.close();
    }
  });
});

describe('jobs on AMQP devices', () => {
  it('scheduleDeviceMethod and scheduleUpdateTwin reach a device on Amqp', async () => {
    const id = 'amqp-job';
    const client = await openAmqpDevice(await createDevice(hub, id), 'Amqp');
    try {
      const calls: unknown[] = [];
      client.onDeviceMethod('lockDoor', (request, response) => {
        calls.push(request.payload);
        void response.send(200, { locked: true });
      });
      const twin = await client.getTwin();
      const desired: Record<string, unknown>[] = [];
      twin.on('properties.desired', (delta: Record<string, unknown>) => desired.push(delta));
      const jobs = JobClient.fromConnectionString(hub.connectionString());
      // The method links attach when onDeviceMethod is called: wait until the hub sees them.
      await eventually(
        async () => {
          await jobs
            .scheduleDeviceMethod(
              `amqp-lock-${calls.length}-${Date.now()}`,
              `deviceId = '${id}'`,
              { methodName: 'lockDoor', payload: { by: 'job' }, responseTimeoutInSeconds: 5 },
              new Date(),
              60,
            )
            .then((r) => pollJob(jobs, r.jobStatus.jobId));
          return calls.length > 0;
        },
        15_000,
        'the job to reach the device',
      );
      expect(calls[0]).toEqual({ by: 'job' });
      const update = await jobs.scheduleTwinUpdate(
        `amqp-twin-${Date.now()}`,
        `deviceId = '${id}'`,
        { etag: '*', properties: { desired: { mode: 'night' } } } as never,
        new Date(),
        60,
      );
      expect((await pollJob(jobs, update.jobStatus.jobId)).status).toBe('completed');
      await eventually(() => desired.some((d) => d.mode === 'night'), 10_000, 'the desired patch from the job');
    } finally {
      await client.close();
    }
  });
});

describe('one connection per device', () => {
  it('a second connection over the other protocol drops the first, both ways', async () => {
    const id = 'amqp-takeover';
    const cs = await createDevice(hub, id);
    const dropped = (reason: string) => hub.recording.connections({ deviceId: id }).some((e) => e.event === 'disconnected' && e.reason === reason);
    const ping = async (): Promise<unknown> => {
      const { result } = (await serviceClientFor(hub).invokeDeviceMethod(id, {
        methodName: 'ping',
        payload: null,
        responseTimeoutInSeconds: 10,
        connectTimeoutInSeconds: 10,
      })) as unknown as { result: { payload: unknown } };
      return result.payload;
    };
    const baseline = hub.amqp.connectionCount;
    const amqp = await openAmqpDevice(cs, 'Amqp');
    amqp.onDeviceMethod('ping', (_req, res) => void res.send(200, 'amqp'));
    expect(await ping()).toBe('amqp');
    const mqtt = await openDevice(cs, 'Mqtt');
    try {
      await eventually(() => dropped('connected again over MQTT') && hub.amqp.connectionCount === baseline, 10_000, 'the AMQP connection to be closed');
      expect(((await registryFor(hub).getTwin(id)).responseBody as TwinJson).connectionState).toBe('Connected');
      mqtt.onDeviceMethod('ping', (_req, res) => void res.send(200, 'mqtt'));
      expect(await ping()).toBe('mqtt');
    } finally {
      // The SDK's close() of a connection the hub already closed never settles: do not wait for it.
      void amqp.close().catch(() => {});
    }
    const again = await openAmqpDevice(cs, 'AmqpWs');
    try {
      await eventually(() => dropped('connected again over AMQP') && hub.connections.current(id) === undefined, 10_000, 'the MQTT connection to be closed');
      // The MQTT client may come back on its own (its retry policy) and take over again, as on IoT Hub; stop it first.
      await Promise.race([mqtt.close().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
      expect(((await registryFor(hub).getTwin(id)).responseBody as TwinJson).connectionState).toBe('Connected');
      again.onDeviceMethod('ping', (_req, res) => void res.send(200, 'amqp-ws'));
      expect(await ping()).toBe('amqp-ws');
    } finally {
      await again.close();
    }
  });
});

describe('AMQP device authentication', () => {
  it('refuses a wrong device key and a token for another device', async () => {
    const cs = await createDevice(hub, 'amqp-auth');
    await createDevice(hub, 'amqp-other');
    const wrong = cs.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 9).toString('base64')}`);
    const error = await openAmqpDevice(wrong, 'Amqp').catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect(`${(error as Error).constructor.name} ${(error as { amqpError?: Error }).amqpError?.constructor.name}`).toMatch(/UnauthorizedError/);
    // A connection string naming one device signed with the other device's key.
    const otherKey = (await registryFor(hub).get('amqp-other')).responseBody.authentication!.symmetricKey!.primaryKey;
    const foreign = cs.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${otherKey}`);
    const error2 = await openAmqpDevice(foreign, 'Amqp').catch((e: Error) => e);
    expect(`${(error2 as Error).constructor.name} ${(error2 as { amqpError?: Error }).amqpError?.constructor.name}`).toMatch(/UnauthorizedError/);
    expect(((await registryFor(hub).getTwin('amqp-auth')).responseBody as TwinJson).connectionState).toBe('Disconnected');
  });
});
