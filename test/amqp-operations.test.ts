import { earliestEventPosition } from '@azure/event-hubs';
import device from 'azure-iot-device';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../emulator/event-hubs/partitioner.js';
import type { Hub } from '../emulator/hub.js';
import { collect, consumerFor, openAmqpDevice } from './support/amqp.js';
import { startTestHub } from './support/hub-factory.js';
import { createDevice, openDevice, rest } from './support/sdk.js';

let hub: Hub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

async function scrape(): Promise<Map<string, number>> {
  const text = await (await fetch(`https://${hub.hostName}:${hub.httpsPort}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) values.set(match[1], Number(match[2]));
  }
  return values;
}

describe('operations on the AMQP paths', () => {
  it('metrics count AMQP devices, their telemetry, and what reaches the built-in endpoint', async () => {
    const before = await scrape();
    const moved = async (name: string): Promise<number> => ((await scrape()).get(name) ?? 0) - (before.get(name) ?? 0);
    const amqp = await openAmqpDevice(await createDevice(hub, 'ops-amqp'));
    const mqtt = await openDevice(await createDevice(hub, 'ops-mqtt'));
    try {
      expect(await moved('connectedDeviceCount')).toBe(2);
      await amqp.sendEvent(new device.Message('a'));
      await mqtt.sendEvent(new device.Message('m'));
      await expect.poll(() => moved('d2c_telemetry_ingress_success'), { timeout: 5000 }).toBe(2);
      expect(await moved('d2c_telemetry_egress_success')).toBe(2);
      expect(await moved('d2c_endpoints_egress_builtIn_events')).toBe(2);
    } finally {
      await amqp.close();
      await mqtt.close();
    }
    await expect.poll(() => moved('connectedDeviceCount'), { timeout: 5000 }).toBe(0);
  });

  it('the recording has the AMQP device connection and its telemetry', async () => {
    const client = await openAmqpDevice(await createDevice(hub, 'ops-rec'));
    try {
      await client.sendEvent(new device.Message(JSON.stringify({ t: 1 })));
      const recorded = await rest(hub, 'GET', '/$emulator/recording?deviceId=ops-rec');
      expect(recorded.status).toBe(200);
      const kinds = (recorded.json.entries ?? recorded.json).map((e: { kind: string }) => e.kind);
      expect(kinds).toEqual(expect.arrayContaining(['connection', 'telemetry']));
    } finally {
      await client.close();
    }
  });

  it('reset drops retained events; numbering carries on', async () => {
    const client = await openDevice(await createDevice(hub, 'ops-reset'));
    const partition = String(partitionOf('ops-reset', 4));
    await client.sendEvent(new device.Message('before reset'));
    await client.close();
    const consumer = consumerFor(hub);
    try {
      const last = (await collect(consumer, earliestEventPosition, (all) => all.some((e) => Buffer.from(e.body).toString() === 'before reset'), partition)).at(
        -1,
      )!;
      expect((await rest(hub, 'POST', '/$emulator/reset')).status).toBe(200);
      const properties = await consumer.getPartitionProperties(partition);
      expect(properties.isEmpty).toBe(true);
      expect(properties.lastEnqueuedSequenceNumber).toBe(last.sequenceNumber);
      const again = await openDevice(await createDevice(hub, 'ops-reset'));
      await again.sendEvent(new device.Message('after reset'));
      await again.close();
      const events = await collect(consumer, earliestEventPosition, (all) => all.length >= 1, partition);
      expect(Buffer.from(events[0].body).toString()).toBe('after reset');
      expect(events[0].sequenceNumber).toBe(last.sequenceNumber + 1);
    } finally {
      await consumer.close();
    }
  });
});

describe('startEmulator (the in-process helper)', () => {
  it('hands out the Event Hubs-compatible connection string, and a consumer reads telemetry with it', async () => {
    const { startEmulator } = await import('../index.js');
    const emulator = await startEmulator();
    try {
      const door = await emulator.createDevice('helper-door');
      const client = await openDevice(door.connectionString);
      await client.sendEvent(new device.Message(JSON.stringify({ locked: true })));
      await client.close();
      const { EventHubConsumerClient } = await import('@azure/event-hubs');
      const consumer = new EventHubConsumerClient('$Default', emulator.eventHubConnectionString, { retryOptions: { maxRetries: 0 } });
      try {
        const events = await collect(consumer, earliestEventPosition, (all) => all.length >= 1);
        expect(events[0].body).toEqual({ locked: true });
      } finally {
        await consumer.close();
      }
    } finally {
      await emulator.stop();
    }
  });
});
