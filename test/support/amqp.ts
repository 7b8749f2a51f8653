import device from 'azure-iot-device';
import deviceAmqp from 'azure-iot-device-amqp';
import { EventHubConsumerClient, type EventPosition, type ReceivedEventData } from '@azure/event-hubs';
import type { Hub } from '../../emulator/hub.js';

export const amqpTransports = { Amqp: deviceAmqp.Amqp, AmqpWs: deviceAmqp.AmqpWs } as const;
export type AmqpTransportName = keyof typeof amqpTransports;

export async function openAmqpDevice(connectionString: string, transport: AmqpTransportName = 'Amqp'): Promise<InstanceType<typeof device.Client>> {
  const client = device.Client.fromConnectionString(connectionString, amqpTransports[transport]);
  await client.open();
  return client;
}

/** An EventHubConsumerClient on the hub's Event Hubs-compatible endpoint, failing fast (no retries). */
export function consumerFor(hub: Hub, options: { consumerGroup?: string; connectionString?: string; webSocket?: boolean } = {}): EventHubConsumerClient {
  return new EventHubConsumerClient(options.consumerGroup ?? '$Default', options.connectionString ?? hub.eventHubConnectionString(), {
    retryOptions: { maxRetries: 0, timeoutInMs: 10_000 },
  });
}

/** Collects events of one partition (or all) until `until` says enough. */
export async function collect(
  consumer: EventHubConsumerClient,
  start: EventPosition,
  until: (events: ReceivedEventData[]) => boolean,
  partitionId?: string,
  timeoutMs = 15_000,
): Promise<ReceivedEventData[]> {
  const events: ReceivedEventData[] = [];
  let fail: (e: Error) => void = () => {};
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  const handlers = {
    processEvents: async (batch: ReceivedEventData[]) => {
      events.push(...batch);
      if (until(events)) done();
    },
    processError: async (error: Error) => fail(error),
  };
  const options = { startPosition: start, maxWaitTimeInSeconds: 1 };
  const subscription = partitionId === undefined ? consumer.subscribe(handlers, options) : consumer.subscribe(partitionId, handlers, options);
  const timer = setTimeout(() => fail(new Error(`timed out with ${events.length} events`)), timeoutMs);
  try {
    await finished;
  } finally {
    clearTimeout(timer);
    await subscription.close();
  }
  return events;
}
