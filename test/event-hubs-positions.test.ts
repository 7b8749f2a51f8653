import { earliestEventPosition, latestEventPosition, type EventPosition, type ReceivedEventData } from '@azure/event-hubs';
import device from 'azure-iot-device';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../emulator/event-hubs/partitioner.js';
import type { Hub } from '../emulator/hub.js';
import { collect, consumerFor } from './support/amqp.js';
import { startTestHub, tempDataDir } from './support/hub-factory.js';
import { createDevice, openDevice } from './support/sdk.js';

const DEVICE = 'eh-positions';
const partition = String(partitionOf(DEVICE, 4));
let hub: Hub;
let sent: ReceivedEventData[];

const bodies = (events: ReceivedEventData[]): string[] => events.map((e) => Buffer.from(e.body).toString());

beforeAll(async () => {
  hub = await startTestHub();
  const client = await openDevice(await createDevice(hub, DEVICE));
  for (let i = 0; i < 6; i++) await client.sendEvent(new device.Message(`e${i}`));
  await client.close();
  const consumer = consumerFor(hub);
  sent = await collect(consumer, earliestEventPosition, (all) => all.length >= 6, partition);
  await consumer.close();
});
afterAll(() => hub?.stop());

async function readFrom(position: EventPosition, count: number): Promise<string[]> {
  const consumer = consumerFor(hub);
  try {
    return bodies(await collect(consumer, position, (all) => all.length >= count, partition)).slice(0, count);
  } finally {
    await consumer.close();
  }
}

describe('partition receiver start positions', () => {
  it('numbers events from 0 with growing string offsets and enqueue times', () => {
    expect(bodies(sent)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);
    expect(sent.map((e) => e.sequenceNumber)).toEqual([0, 1, 2, 3, 4, 5]);
    const offsets = sent.map((e) => Number(e.offset));
    expect(offsets[0]).toBe(0);
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]).toBeGreaterThan(offsets[i - 1]);
  });

  it('starts at a sequence number, exclusive and inclusive', async () => {
    expect(await readFrom({ sequenceNumber: 2 }, 3)).toEqual(['e3', 'e4', 'e5']);
    expect(await readFrom({ sequenceNumber: 2, isInclusive: true }, 4)).toEqual(['e2', 'e3', 'e4', 'e5']);
  });

  it('starts at an offset, exclusive and inclusive', async () => {
    expect(await readFrom({ offset: sent[3].offset }, 2)).toEqual(['e4', 'e5']);
    expect(await readFrom({ offset: sent[3].offset, isInclusive: true }, 3)).toEqual(['e3', 'e4', 'e5']);
  });

  it('starts after an enqueued time', async () => {
    const expected = sent.filter((e) => e.enqueuedTimeUtc.getTime() > sent[1].enqueuedTimeUtc.getTime());
    expect(await readFrom({ enqueuedOn: sent[1].enqueuedTimeUtc }, expected.length)).toEqual(bodies(expected));
  });

  it('starts at the end with latest, and reports the last enqueued event', async () => {
    const consumer = consumerFor(hub);
    const client = await openDevice(hub.deviceConnectionString(DEVICE));
    try {
      const properties = await consumer.getPartitionProperties(partition);
      expect(properties).toMatchObject({ beginningSequenceNumber: 0, lastEnqueuedSequenceNumber: 5, lastEnqueuedOffset: sent[5].offset, isEmpty: false });
      // Keep sending until the receiver (attached at some point) sees one: only new events arrive.
      const timer = setInterval(() => void client.sendEvent(new device.Message('late')).catch(() => {}), 200);
      const events = await collect(consumer, latestEventPosition, (all) => all.length >= 1, partition).finally(() => clearInterval(timer));
      expect(events[0].sequenceNumber).toBeGreaterThan(5);
      expect(bodies(events)[0]).toBe('late');
    } finally {
      await client.close();
      await consumer.close();
    }
  });

  it('tracks the last enqueued event when asked', async () => {
    const consumer = consumerFor(hub);
    try {
      let info: unknown;
      const subscription = consumer.subscribe(
        partition,
        {
          processEvents: async (_events, context) => {
            info ??= context.lastEnqueuedEventProperties?.sequenceNumber !== undefined ? context.lastEnqueuedEventProperties : undefined;
          },
          processError: async () => {},
        },
        { startPosition: earliestEventPosition, trackLastEnqueuedEventProperties: true, maxWaitTimeInSeconds: 1 },
      );
      await expect.poll(() => info, { timeout: 10_000 }).toBeDefined();
      await subscription.close();
      const last = info as { sequenceNumber: number; offset: string; enqueuedOn: Date; retrievedOn: Date };
      expect(last.sequenceNumber).toBeGreaterThanOrEqual(5);
      expect(typeof last.offset).toBe('string');
      expect(last.enqueuedOn).toBeInstanceOf(Date);
      expect(last.retrievedOn).toBeInstanceOf(Date);
    } finally {
      await consumer.close();
    }
  });
});

describe('owner level (epoch)', () => {
  it('a receiver with a higher owner level takes the partition; the first gets ReceiverDisconnectedError (a MessagingError with that code)', async () => {
    const first = consumerFor(hub);
    const second = consumerFor(hub);
    const errors: Error[] = [];
    try {
      const received: ReceivedEventData[] = [];
      const one = first.subscribe(
        partition,
        { processEvents: async (e) => void received.push(...e), processError: async (e) => void errors.push(e) },
        { startPosition: earliestEventPosition, ownerLevel: 1, maxWaitTimeInSeconds: 1 },
      );
      await expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThan(0);
      const got: ReceivedEventData[] = [];
      const two = second.subscribe(
        partition,
        { processEvents: async (e) => void got.push(...e), processError: async () => {} },
        { startPosition: earliestEventPosition, ownerLevel: 2, maxWaitTimeInSeconds: 1 },
      );
      await expect.poll(() => errors.map((e) => (e as Error & { code?: string }).code), { timeout: 10_000 }).toContain('ReceiverDisconnectedError');
      await expect.poll(() => got.length, { timeout: 10_000 }).toBeGreaterThan(0);
      await one.close();
      await two.close();
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('a receiver with a lower owner level is refused', async () => {
    const owner = consumerFor(hub);
    const late = consumerFor(hub);
    try {
      const received: ReceivedEventData[] = [];
      const one = owner.subscribe(
        partition,
        { processEvents: async (e) => void received.push(...e), processError: async () => {} },
        { startPosition: earliestEventPosition, ownerLevel: 5, maxWaitTimeInSeconds: 1 },
      );
      await expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThan(0);
      const errors: Error[] = [];
      const two = late.subscribe(
        partition,
        { processEvents: async () => {}, processError: async (e) => void errors.push(e) },
        { startPosition: earliestEventPosition, ownerLevel: 4, maxWaitTimeInSeconds: 1 },
      );
      await expect.poll(() => errors.map((e) => (e as Error & { code?: string }).code), { timeout: 10_000 }).toContain('ReceiverDisconnectedError');
      await two.close();
      await one.close();
    } finally {
      await owner.close();
      await late.close();
    }
  });
});

describe('retention across restarts', () => {
  it('a consumer from earliest after a restart sees what was sent before it, and numbering carries on', async () => {
    const data = tempDataDir();
    let disk = await startTestHub({ inMemory: false, dataDir: data.dir });
    try {
      const client = await openDevice(await createDevice(disk, 'eh-restart'));
      await client.sendEvent(new device.Message('before'));
      await client.close();
      const host = disk.options.host;
      await disk.stop();
      disk = await startTestHub({ inMemory: false, dataDir: data.dir, host });
      const again = await openDevice(disk.deviceConnectionString('eh-restart'));
      await again.sendEvent(new device.Message('after'));
      await again.close();
      const consumer = consumerFor(disk);
      try {
        const events = await collect(consumer, earliestEventPosition, (all) => all.length >= 2, String(partitionOf('eh-restart', 4)));
        expect(bodies(events)).toEqual(['before', 'after']);
        expect(events.map((e) => e.sequenceNumber)).toEqual([0, 1]);
        expect(Number(events[1].offset)).toBeGreaterThan(Number(events[0].offset));
      } finally {
        await consumer.close();
      }
    } finally {
      await disk.stop();
      data.remove();
    }
  });
});
