import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import iothub from 'azure-iothub';
import type device from 'azure-iot-device';
import type { Hub } from '../emulator/hub.js';
import { c2dMessage, openServiceClient, resultOf, type FeedbackLog, type ServiceClientInstance, eventually } from './support/c2d.js';
import { startTestHub } from './support/hub-factory.js';
import { createDevice, openDevice, registryFor, rest } from './support/sdk.js';

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

describe('azure-iothub Client.send over AMQP', () => {
  it('queues a message for a known device', async () => {
    await createDevice(hub, 'svc-known');
    const result = resultOf(await service.send('svc-known', c2dMessage('hi', { messageId: 'k-1' })));
    expect(result.constructor.name).toBe('MessageEnqueued');
    expect(hub.c2d.pending('svc-known')).toBe(1);
    expect(hub.recording.c2dMessages({ deviceId: 'svc-known', event: 'sent' })[0]).toMatchObject({ messageId: 'k-1', payload: 'hi', ack: 'none' });
  });

  it('refuses an unknown device with DeviceNotFoundError', async () => {
    const error = await service.send('svc-nobody', c2dMessage('x')).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).constructor.name).toBe('DeviceNotFoundError');
  });

  it('refuses the 51st pending message with DeviceMaximumQueueDepthExceededError', async () => {
    const id = 'svc-full';
    await createDevice(hub, id);
    for (let i = 0; i < 50; i++) await service.send(id, c2dMessage(`m${i}`));
    const error = await service.send(id, c2dMessage('one too many')).catch((e: Error) => e);
    expect((error as Error).constructor.name).toBe('DeviceMaximumQueueDepthExceededError');
    expect(hub.c2d.pending(id)).toBe(50);
    // Purging makes room again, and the purge is reported to a full-ack sender only.
    const purged = await rest(hub, 'DELETE', `/devices/${id}/commands?api-version=2021-04-12`);
    expect(purged.json.totalMessagesPurged).toBe(50);
    await service.send(id, c2dMessage('room again'));
  });

  it('expires a message and sends Expired feedback for ack full', async () => {
    const id = 'svc-expire';
    await createDevice(hub, id);
    await service.send(id, c2dMessage('late', { messageId: 'exp-1', ack: 'full', expiryTimeUtc: Date.now() + 300 }));
    const record = await eventually(() => feedback.records().find((r) => r.originalMessageId === 'exp-1'), 5000, 'Expired feedback');
    expect(record).toMatchObject({ statusCode: 'Expired', deviceId: id });
    expect(hub.c2d.pending(id)).toBe(0);
  });

  it("sends Success feedback for ack 'full' once an MQTT device completes, in the hub's feedback format", async () => {
    const id = 'svc-full-ack';
    const client = await openDevice(await createDevice(hub, id));
    try {
      const got: string[] = [];
      client.on('message', (m: InstanceType<typeof device.Message>) => got.push(m.getBytes().toString()));
      await eventually(() => hub.connections.isSubscribed(id, 'c2d'), 5000, 'C2D subscription');
      await service.send(id, c2dMessage('open', { messageId: 'full-1', ack: 'full' }));
      const record = await eventually(() => feedback.records().find((r) => r.originalMessageId === 'full-1'), 5000, 'Success feedback');
      expect(got).toEqual(['open']);
      const generationId = ((await registryFor(hub).get(id)).responseBody as { generationId: string }).generationId;
      expect(record).toEqual({
        originalMessageId: 'full-1',
        description: 'Success',
        statusCode: 'Success',
        deviceId: id,
        enqueuedTimeUtc: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/),
        deviceGenerationId: generationId,
      });
      const message = feedback.messages.find((m) => m.records.includes(record))!;
      expect(message.contentType).toBe('application/vnd.microsoft.iothub.feedback.json');
    } finally {
      await client.close();
    }
  });

  it('does not send feedback a sender did not ask for', async () => {
    const id = 'svc-positive';
    await createDevice(hub, id);
    await service.send(id, c2dMessage('a', { messageId: 'pos-expired', ack: 'positive', expiryTimeUtc: Date.now() + 100 }));
    await service.send(id, c2dMessage('b', { messageId: 'neg-expired', ack: 'negative', expiryTimeUtc: Date.now() + 100 }));
    await eventually(() => feedback.records().some((r) => r.originalMessageId === 'neg-expired'), 5000, 'negative-ack feedback');
    expect(feedback.records().some((r) => r.originalMessageId === 'pos-expired')).toBe(false);
  });

  it('attaches the file notification receiver', async () => {
    const receiver = resultOf(await service.getFileNotificationReceiver());
    expect(receiver).toBeTruthy();
  });

  it('refuses a hub connection string with a wrong key', async () => {
    const wrong = hub.connectionString().replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    const client = iothub.Client.fromConnectionString(wrong);
    const error = await client.open().catch((e: Error) => e);
    // The SDK wraps the put-token refusal: "Could not connect", with the UnauthorizedError inside.
    expect((error as Error & { amqpError?: Error }).amqpError?.constructor.name).toBe('UnauthorizedError');
    await client.close();
  });
});
