import { earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import device from 'azure-iot-device';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../emulator/event-hubs/partitioner.js';
import type { Hub } from '../emulator/hub.js';
import { collect, consumerFor, openAmqpDevice } from './support/amqp.js';
import { startTestHub } from './support/hub-factory.js';
import { dropWithWill } from './support/raw-device.js';
import { createDevice, openDevice } from './support/sdk.js';

let hub: Hub;

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

function sample(text: string): InstanceType<typeof device.Message> {
  const message = new device.Message(JSON.stringify({ text }));
  message.messageId = `mid-${text}`;
  message.correlationId = `cid-${text}`;
  message.contentType = 'application/json';
  message.contentEncoding = 'utf-8';
  message.properties.add('alert', 'yes');
  return message;
}

describe('the Event Hubs-compatible endpoint', () => {
  it('has the hub name, 4 partitions and typed partition properties', async () => {
    const consumer = consumerFor(hub);
    try {
      expect(await consumer.getPartitionIds()).toEqual(['0', '1', '2', '3']);
      const props = await consumer.getEventHubProperties();
      expect(props.name).toBe(hub.eventHubName);
      expect(props.createdOn).toBeInstanceOf(Date);
      const partition = await consumer.getPartitionProperties('0');
      expect(partition).toMatchObject({ eventHubName: hub.eventHubName, partitionId: '0' });
      expect(typeof partition.beginningSequenceNumber).toBe('number');
      expect(typeof partition.lastEnqueuedSequenceNumber).toBe('number');
      expect(typeof partition.lastEnqueuedOffset).toBe('string');
      expect(partition.lastEnqueuedOnUtc).toBeInstanceOf(Date);
      expect(typeof partition.isEmpty).toBe('boolean');
    } finally {
      await consumer.close();
    }
  });

  it('delivers MQTT and AMQP device messages with body, properties, system properties and annotations', async () => {
    const mqtt = await openDevice(await createDevice(hub, 'eh-mqtt'));
    const amqp = await openAmqpDevice(await createDevice(hub, 'eh-amqp'));
    const consumer = consumerFor(hub);
    try {
      await mqtt.sendEvent(sample('mqtt'));
      await amqp.sendEvent(sample('amqp'));
      const events = await collect(consumer, earliestEventPosition, (all) =>
        ['eh-mqtt', 'eh-amqp'].every((id) => all.some((e) => e.systemProperties?.['iothub-connection-device-id'] === id)),
      );
      for (const [deviceId, text] of [
        ['eh-mqtt', 'mqtt'],
        ['eh-amqp', 'amqp'],
      ] as const) {
        const event = events.find((e) => e.systemProperties?.['iothub-connection-device-id'] === deviceId) as ReceivedEventData;
        expect(event.body).toEqual({ text });
        expect(event.properties).toEqual({ alert: 'yes' });
        expect(event.messageId).toBe(`mid-${text}`);
        expect(event.correlationId).toBe(`cid-${text}`);
        expect(event.contentType).toBe('application/json');
        expect(typeof event.sequenceNumber).toBe('number');
        expect(typeof event.offset).toBe('string');
        expect(event.enqueuedTimeUtc).toBeInstanceOf(Date);
        const record = hub.registry.find(deviceId)!;
        expect(event.systemProperties).toMatchObject({
          'iothub-connection-device-id': deviceId,
          'iothub-connection-auth-generation-id': record.generationId,
          'iothub-message-source': 'Telemetry',
          contentEncoding: 'utf-8',
          contentType: 'application/json',
        });
        expect(JSON.parse(String(event.systemProperties!['iothub-connection-auth-method']))).toMatchObject({ scope: 'device', type: 'sas', issuer: 'iothub' });
        expect(event.systemProperties).not.toHaveProperty('iothub-connection-module-id');
        expect(typeof event.systemProperties!['iothub-enqueuedtime']).toBe('number');
      }
    } finally {
      await consumer.close();
      await mqtt.close();
      await amqp.close();
    }
  });

  it('keeps a device on one partition', async () => {
    const consumer = consumerFor(hub);
    const client = await openDevice(await createDevice(hub, 'eh-sticky'));
    try {
      const partition = String(partitionOf('eh-sticky', 4));
      for (let i = 0; i < 5; i++) await client.sendEvent(new device.Message(`m${i}`));
      const events = await collect(
        consumer,
        earliestEventPosition,
        (all) => all.filter((e) => e.systemProperties?.['iothub-connection-device-id'] === 'eh-sticky').length === 5,
        partition,
      );
      const mine = events.filter((e) => e.systemProperties?.['iothub-connection-device-id'] === 'eh-sticky');
      // Not JSON, so the SDK hands the body over as bytes.
      expect(mine.map((e) => Buffer.from(e.body).toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
      expect(mine.every((e) => e.partitionKey === undefined)).toBe(true);
    } finally {
      await consumer.close();
      await client.close();
    }
  });

  it("an MQTT device's Will becomes an event marked iothub-MessageType=Will", async () => {
    const id = 'eh-will';
    await createDevice(hub, id);
    const client = await dropWithWill(hub, id);
    const consumer = consumerFor(hub);
    try {
      const events = await collect(
        consumer,
        earliestEventPosition,
        (all) => all.some((e) => e.systemProperties?.['iothub-connection-device-id'] === id),
        String(partitionOf(id, 4)),
      );
      const will = events.find((e) => e.systemProperties?.['iothub-connection-device-id'] === id)!;
      expect(will.body).toEqual({ gone: true });
      expect(will.properties).toEqual({ 'iothub-MessageType': 'Will' });
    } finally {
      client.end(true);
      await consumer.close();
    }
  });
});
