import { afterAll, describe, expect, it } from 'vitest';
import type device from 'azure-iot-device';
import type { Hub } from '../emulator/hub.js';
import { openAmqpDevice } from './support/amqp.js';
import { c2dMessage, openServiceClient, eventually } from './support/c2d.js';
import { startTestHub, tempDataDir } from './support/hub-factory.js';
import { createDevice, openDevice, registryFor } from './support/sdk.js';

const data = tempDataDir();
afterAll(() => data.remove());

describe('C2D queues', () => {
  it('survive an emulator restart and reach the device after it', async () => {
    let hub: Hub = await startTestHub({ inMemory: false, dataDir: data.dir });
    const host = hub.options.host;
    const cs = await createDevice(hub, 'c2d-restart');
    let { client: service } = await openServiceClient(hub);
    await service.send('c2d-restart', c2dMessage('first', { messageId: 'r-1' }));
    await service.send('c2d-restart', c2dMessage('second', { messageId: 'r-2', ack: 'full' }));
    expect(((await registryFor(hub).get('c2d-restart')).responseBody as unknown as { cloudToDeviceMessageCount: number }).cloudToDeviceMessageCount).toBe(2);
    await service.close();
    await hub.stop();
    hub = await startTestHub({ inMemory: false, dataDir: data.dir, host });
    let feedback: Awaited<ReturnType<typeof openServiceClient>>['feedback'];
    ({ client: service, feedback } = await openServiceClient(hub));
    const client = await openDevice(cs);
    try {
      expect(hub.c2d.pending('c2d-restart')).toBe(2);
      const got: string[] = [];
      client.on('message', (m: InstanceType<typeof device.Message>) => got.push(m.messageId));
      await eventually(() => got.length === 2 && hub.c2d.pending('c2d-restart') === 0, 10_000, 'both messages');
      expect(got).toEqual(['r-1', 'r-2']);
      const record = await eventually(() => feedback.records().find((r) => r.originalMessageId === 'r-2'), 5000, 'feedback');
      expect(record.statusCode).toBe('Success');
      expect(((await registryFor(hub).get('c2d-restart')).responseBody as unknown as { cloudToDeviceMessageCount: number }).cloudToDeviceMessageCount).toBe(0);
    } finally {
      await client.close();
      await service.close();
      await hub.stop();
    }
  }, 40_000);

  it('take their default TTL and max delivery count from the hub settings (--c2d-default-ttl, --c2d-max-delivery-count)', async () => {
    const hub = await startTestHub({ c2dDefaultTtlSeconds: 1, c2dMaxDeliveryCount: 2 });
    const { client: service, feedback } = await openServiceClient(hub);
    try {
      await createDevice(hub, 'c2d-ttl');
      await service.send('c2d-ttl', c2dMessage('soon gone', { messageId: 'ttl-1', ack: 'negative' }));
      const expired = await eventually(() => feedback.records().find((r) => r.originalMessageId === 'ttl-1'), 5000, 'Expired feedback');
      expect(expired.statusCode).toBe('Expired');
      const client = await openAmqpDevice(await createDevice(hub, 'c2d-count'), 'Amqp');
      try {
        let deliveries = 0;
        client.on('message', (m: InstanceType<typeof device.Message>) => {
          deliveries++;
          void client.abandon(m);
        });
        await service.send('c2d-count', c2dMessage('twice', { messageId: 'count-1', ack: 'full' }));
        const record = await eventually(() => feedback.records().find((r) => r.originalMessageId === 'count-1'), 5000, 'DeliveryCountExceeded feedback');
        expect(record.statusCode).toBe('DeliveryCountExceeded');
        expect(deliveries).toBe(2);
      } finally {
        await client.close();
      }
    } finally {
      await service.close();
      await hub.stop();
    }
  });
});
