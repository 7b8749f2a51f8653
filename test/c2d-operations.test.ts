import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type device from 'azure-iot-device';
import type { Hub } from '../emulator/hub.js';
import { monitorEvent } from '../emulator/remote/monitor-format.js';
import { openAmqpDevice } from './support/amqp.js';
import { c2dMessage, openServiceClient, type ServiceClientInstance, eventually } from './support/c2d.js';
import { startTestHub } from './support/hub-factory.js';
import { createDevice, registryFor, rest } from './support/sdk.js';

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

async function scrape(): Promise<Map<string, number>> {
  const text = await (await fetch(`https://${hub.hostName}:${hub.httpsPort}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][\w:]*) (\S+)$/.exec(line);
    if (match) values.set(match[1], Number(match[2]));
  }
  return values;
}

describe('C2D in metrics, recording, monitor and reset', () => {
  it('counts completes, rejects, abandons and expiries under IoT Hub metric names, and records each step', async () => {
    const id = 'ops-c2d';
    const before = await scrape();
    const client = await openAmqpDevice(await createDevice(hub, id), 'Amqp');
    try {
      client.on('message', (m: InstanceType<typeof device.Message>) => {
        const verdict = m.properties.getValue('verdict');
        if (verdict === 'complete') void client.complete(m);
        else if (verdict === 'reject') void client.reject(m);
        else if (hub.recording.c2dMessages({ deviceId: id, event: 'abandoned' }).length === 0) void client.abandon(m);
        else void client.complete(m);
      });
      // One at a time: rhea 1.0.24 in the device SDK merges settlements made in the same tick into
      // one disposition carrying the first one's outcome (a reject then an abandon both read as rejected).
      for (const [messageId, verdict] of [
        ['ops-complete', 'complete'],
        ['ops-reject', 'reject'],
        ['ops-abandon', 'abandon'],
      ]) {
        await service.send(id, c2dMessage(messageId, { messageId, properties: { verdict } }));
        await eventually(() => hub.c2d.pending(id) === 0, 10_000, `${messageId} settled`);
      }
      await createDevice(hub, 'ops-offline');
      await service.send('ops-offline', c2dMessage('gone', { messageId: 'ops-expire', expiryTimeUtc: Date.now() + 100 }));
      await eventually(() => hub.recording.c2dMessages({ deviceId: 'ops-offline', event: 'expired' }).length === 1, 5000, 'the expiry');
      const after = await scrape();
      const moved = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
      expect(moved('c2d_commands_egress_complete_success')).toBe(2);
      expect(moved('c2d_commands_egress_reject_success')).toBe(1);
      expect(moved('c2d_commands_egress_abandon_success')).toBe(1);
      expect(moved('C2DMessagesExpired')).toBe(1);
      const events = hub.recording.c2dMessages({ deviceId: id }).map((e) => `${e.messageId}:${e.event}`);
      expect(events).toEqual(
        expect.arrayContaining(['ops-complete:sent', 'ops-complete:completed', 'ops-reject:rejected', 'ops-abandon:abandoned', 'ops-abandon:completed']),
      );
      const sent = hub.recording.c2dMessages({ deviceId: id, event: 'sent' })[0];
      expect(monitorEvent(sent, 'hub').event).toMatchObject({
        origin: id,
        payload: { event: 'sent', messageId: 'ops-complete', payload: 'ops-complete', ack: 'none' },
        annotations: { 'iothub-message-source': 'emulator.cloudToDeviceMessages' },
      });
      // The event stream offers the kind too.
      const stream = await rest(hub, 'GET', '/$emulator/recording?kind=c2d');
      expect(stream.status).toBe(200);
    } finally {
      await client.close();
    }
  });

  it("drops a deleted device's queue, and reset clears every queue", async () => {
    await createDevice(hub, 'ops-delete');
    await createDevice(hub, 'ops-reset');
    await service.send('ops-delete', c2dMessage('x'));
    await service.send('ops-reset', c2dMessage('y'));
    await registryFor(hub).delete('ops-delete');
    expect(hub.c2d.pending('ops-delete')).toBe(0);
    // Re-created under the same id, it starts with an empty queue.
    await createDevice(hub, 'ops-delete');
    expect(hub.c2d.pending('ops-delete')).toBe(0);
    expect(hub.c2d.pending('ops-reset')).toBe(1);
    await hub.reset();
    expect(hub.c2d.totalPending).toBe(0);
  });
});
