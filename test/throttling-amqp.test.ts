import common from 'azure-iot-common';
import { Message } from 'azure-iot-device';
import type { Connection, EventContext } from 'rhea';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Hub } from '../cli/start-hub.js';
import { createSasToken } from '../protocol/sas.js';
import { openAmqpDevice } from './support/amqp.js';
import { attached, rawAmqp } from './support/amqp-raw.js';
import { c2dMessage, openServiceClient, type ServiceClientInstance } from './support/c2d.js';
import { startTestHub } from './support/hub-factory.js';

const { errors, NoRetry } = common;

async function metricsText(hub: Hub): Promise<string> {
  return (await fetch(`https://${hub.hostName}:${hub.httpsPort}/metrics`)).text();
}

/** Each promise's outcome: the value, or the error it rejected with. */
function settle<T>(promises: Promise<T>[]): Promise<({ ok: true; value: T } | { ok: false; error: any })[]> {
  return Promise.all(
    promises.map((p) =>
      p.then(
        (value) => ({ ok: true as const, value }),
        (error) => ({ ok: false as const, error }),
      ),
    ),
  );
}

describe('an emulated S1 hub with one unit, over AMQP', () => {
  let hub: Hub;
  let service: ServiceClientInstance;
  beforeAll(async () => {
    hub = await startTestHub({ tier: 'S1', units: 1 });
    ({ client: service } = await openServiceClient(hub));
  });
  afterAll(async () => {
    await service?.close();
    await hub?.stop();
  });

  it('refuses AMQP telemetry beyond the D2C throttle with com.microsoft:device-container-throttled (the SDK ThrottlingError), keeping the connection', async () => {
    hub.registry.create({ deviceId: 'amqp-d2c-burst' });
    const client = await openAmqpDevice(hub.deviceConnectionString('amqp-d2c-burst'));
    try {
      client.setRetryPolicy(new NoRetry());
      let disconnected = false;
      client.on('disconnect', () => {
        disconnected = true;
      });
      const since = hub.recording.lastSeq;
      // 100/s with one second queued: of 400 at once, 100 go now, about 100 late, the rest are refused.
      const outcomes = await settle(Array.from({ length: 400 }, (_, i) => client.sendEvent(new Message(`m${i}`))));
      const refused = outcomes.filter((o) => !o.ok);
      expect(outcomes.length - refused.length).toBeGreaterThanOrEqual(100);
      expect(refused.length).toBeGreaterThanOrEqual(100);
      for (const o of refused) {
        expect(o.error).toBeInstanceOf(errors.ThrottlingError);
        expect(o.error.amqpError.condition).toBe('com.microsoft:device-container-throttled');
      }
      expect(disconnected).toBe(false);
      expect(hub.recording.entries({ kind: 'throttle', since }).some((e) => (e as { operation?: string }).operation === 'd2c')).toBe(true);
      expect(await metricsText(hub)).toMatch(/iothub_emulator_throttled_total\{operation="d2c",outcome="throttled"\} [1-9]/);
      // The same connection is served again once the rate allows.
      await vi.waitFor(() => client.sendEvent(new Message('after')), { timeout: 10_000, interval: 500 });
    } finally {
      await client.close().catch(() => undefined);
    }
  }, 60_000);

  it('shapes, then refuses Client.send beyond the C2D throttle (1.67/s) with ThrottlingError', async () => {
    hub.registry.create({ deviceId: 'amqp-c2d-burst' });
    service.setRetryPolicy(new NoRetry());
    const started = Date.now();
    const outcomes = await settle(Array.from({ length: 12 }, (_, i) => service.send('amqp-c2d-burst', c2dMessage(`c${i}`))));
    const refused = outcomes.filter((o) => !o.ok);
    // One now and one or two queued within the second of backlog; the rest are refused.
    expect(outcomes.length - refused.length).toBeGreaterThanOrEqual(2);
    expect(outcomes.length - refused.length).toBeLessThanOrEqual(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    for (const o of refused) {
      // azure-iothub carries its own copy of the error classes: compared by name.
      expect(o.error.name).toBe('ThrottlingError');
      expect(JSON.stringify(o.error.amqpError)).toContain('com.microsoft:device-container-throttled');
    }
    expect(await metricsText(hub)).toMatch(/iothub_emulator_throttled_total\{operation="c2d",outcome="throttled"\} [1-9]/);
  }, 30_000);

  it('answers AMQP twin updates beyond the throttle with status 429 (ThrottlingError)', async () => {
    hub.registry.create({ deviceId: 'amqp-twin-burst' });
    const client = await openAmqpDevice(hub.deviceConnectionString('amqp-twin-burst'));
    try {
      client.setRetryPolicy(new NoRetry());
      const twin = await client.getTwin();
      // 50/s with one second queued: of 200 reported patches at once, about 100 are answered, the rest 429.
      const outcomes = await settle(
        Array.from(
          { length: 200 },
          (_, i) => new Promise<void>((resolve, reject) => twin.properties.reported.update({ n: i }, (e?: Error) => (e ? reject(e) : resolve()))),
        ),
      );
      const refused = outcomes.filter((o) => !o.ok);
      expect(outcomes.length - refused.length).toBeGreaterThanOrEqual(50);
      expect(refused.length).toBeGreaterThanOrEqual(50);
      // The device SDK wraps a twin error; the hub's status 429 is its ThrottlingError.
      for (const o of refused) expect(o.error.amqpError).toBeInstanceOf(errors.ThrottlingError);
      expect(await metricsText(hub)).toMatch(/iothub_emulator_throttled_total\{operation="twinUpdate",outcome="throttled"\} [1-9]/);
    } finally {
      await client.close().catch(() => undefined);
    }
  }, 60_000);

  it('takes new AMQP device connections at 100/s, late within the backlog, then drops the connection with com.microsoft:device-container-throttled', async () => {
    const ids = Array.from({ length: 260 }, (_, i) => `amqp-conn-${i}`);
    for (const deviceId of ids) hub.registry.create({ deviceId });
    // Each device's first put-token on a connection is its connect; one client connection carries them all at once.
    const connection: Connection = await rawAmqp(hub);
    const sender = await attached(connection.open_sender({ target: { address: '$cbs' } }));
    const receiver = await attached(connection.open_receiver({ source: { address: '$cbs' } }));
    const answers: number[] = [];
    receiver.on('message', (c: EventContext) => answers.push(c.message!.application_properties!['status-code']));
    // The hub detaches the connection's links with the error before closing it (the order the SDKs recover from).
    const closed = new Promise<{ condition?: string }>((resolve) => sender.once('sender_error', () => resolve(sender.error as { condition?: string })));
    for (const deviceId of ids) {
      const key = hub.registry.get(deviceId).authentication.symmetricKey.primaryKey!;
      const audience = `${hub.hostName}/devices/${deviceId}`;
      sender.send({
        message_id: deviceId,
        reply_to: 'cbs',
        application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: audience },
        body: createSasToken(audience, key, Math.floor(Date.now() / 1000) + 600),
      });
    }
    const error = await closed;
    expect(error.condition).toBe('com.microsoft:device-container-throttled');
    expect(answers.filter((s) => s === 200).length).toBeGreaterThanOrEqual(100);
    expect(answers.filter((s) => s !== 200)).toEqual([]);
    expect(await metricsText(hub)).toMatch(/iothub_emulator_throttled_total\{operation="connect",outcome="throttled"\} [1-9]/);
  }, 60_000);
});

describe('an emulated free hub over AMQP', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startTestHub({ tier: 'F1', units: 1 });
  });
  afterAll(() => hub?.stop());

  it("refuses AMQP telemetry and Client.send with IotHubQuotaExceededError once the day's messages are spent", async () => {
    hub.registry.create({ deviceId: 'f1-amqp-quota' });
    const client = await openAmqpDevice(hub.deviceConnectionString('f1-amqp-quota'));
    const { client: service } = await openServiceClient(hub);
    try {
      client.setRetryPolicy(new NoRetry());
      service.setRetryPolicy(new NoRetry());
      // 0.5 KB metering on the free tier: a 250 KB message is 500 of the day's 8,000, so 16 spend it all.
      const body = Buffer.alloc(250 * 1024, 'a');
      for (let i = 0; i < 16; i++) await client.sendEvent(new Message(body));
      const refused = await client.sendEvent(new Message(body)).catch((e: unknown) => e as Error & { amqpError: { condition: string } });
      expect(refused).toBeInstanceOf(errors.IotHubQuotaExceededError);
      expect((refused as { amqpError: { condition: string } }).amqpError.condition).toBe('amqp:resource-limit-exceeded');
      const send = await service.send('f1-amqp-quota', c2dMessage('late')).catch((e: unknown) => e as Error & { amqpError: { condition: string } });
      // azure-iothub carries its own copy of the error classes: compared by name.
      expect((send as Error).name).toBe('IotHubQuotaExceededError');
      expect(JSON.stringify((send as { amqpError: unknown }).amqpError)).toContain('com.microsoft:quota-exceeded');
      expect(await metricsText(hub)).toMatch(/iothub_emulator_throttled_total\{operation="d2c",outcome="quota"\} [1-9]/);
      // A new UTC day on the hub clock gives a new quota.
      const now = hub.clock.now();
      hub.clock.advance(86_400_000 - (now % 86_400_000) + 1000);
      await client.sendEvent(new Message('next day'));
    } finally {
      await service.close().catch(() => undefined);
      await client.close().catch(() => undefined);
    }
  }, 60_000);
});
