import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import device from 'azure-iot-device';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { partitionOf } from '../emulator/event-hubs/partitioner.js';
import type { Hub } from '../emulator/hub.js';
import { collect, openAmqpDevice } from './support/amqp.js';
import { startTestHub } from './support/hub-factory.js';
import { convertIotHubToEventHubsConnectionString } from './support/redirect-sample.js';
import { createDevice, openDevice } from './support/sdk.js';

let hub: Hub;
const DEVICE = 'transport-dev';
const partition = String(partitionOf(DEVICE, 4));

beforeAll(async () => {
  hub = await startTestHub({ plainAmqpPort: 5672 });
  const client = await openDevice(await createDevice(hub, DEVICE));
  await client.sendEvent(new device.Message(JSON.stringify({ n: 1 })));
  await client.close();
});
afterAll(() => hub?.stop());

const noRetries = { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } };

async function readOne(consumer: EventHubConsumerClient): Promise<unknown> {
  try {
    const events = await collect(consumer, earliestEventPosition, (all) => all.length >= 1, partition);
    return events[0].body;
  } finally {
    await consumer.close();
  }
}

describe('ways to reach the Event Hubs-compatible endpoint', () => {
  it('plain AMQP with UseDevelopmentEmulator=true', async () => {
    const cs = hub.eventHubConnectionString('iothubowner', { plain: true });
    expect(cs).toMatch(/^Endpoint=sb:\/\/[^/]+:5672\/;.*;UseDevelopmentEmulator=true$/);
    expect(await readOne(new EventHubConsumerClient('$Default', cs, noRetries))).toEqual({ n: 1 });
  });

  it('AMQP over WebSocket at /$servicebus/websocket', async () => {
    const consumer = new EventHubConsumerClient('$Default', hub.eventHubConnectionString(), {
      ...noRetries,
      webSocketOptions: { webSocket: WebSocket as never },
    });
    expect(await readOne(consumer)).toEqual({ n: 1 });
  });

  it('customEndpointAddress: the Endpoint host (and every audience) is not ours, the socket goes to the emulator', async () => {
    const cs = `Endpoint=sb://iothub-ns-myhub-123.servicebus.windows.net/;SharedAccessKeyName=service;SharedAccessKey=/bAiRJykaPg8V1NLrhdqKVR2WvSJhcSRGCYSR7p/bnI=;EntityPath=${hub.eventHubName}`;
    const consumer = new EventHubConsumerClient('other-group', cs, { ...noRetries, customEndpointAddress: `sb://${hub.options.host}:${hub.amqpPort}` });
    expect(await readOne(consumer)).toEqual({ n: 1 });
  });

  it("Microsoft's redirect sample turns the hub connection string into the Event Hubs one", async () => {
    const converted = await convertIotHubToEventHubsConnectionString(hub.connectionString());
    expect(converted).toBe(
      `Endpoint=sb://${hub.hostName}/;EntityPath=${hub.eventHubName};SharedAccessKeyName=iothubowner;SharedAccessKey=rRLBpgnCo0Oa8ww60kU1nM5HT4L3rAVjRIb3RRiooFk=`,
    );
    expect(await readOne(new EventHubConsumerClient('$Default', converted, noRetries))).toEqual({ n: 1 });
  });
});

describe('WebSockets on 443', () => {
  it('MqttWs and AmqpWs devices work side by side', async () => {
    const mqtt = await openDevice(await createDevice(hub, 'ws-mqtt'), 'MqttWs');
    const amqp = await openAmqpDevice(await createDevice(hub, 'ws-amqp'), 'AmqpWs');
    try {
      await Promise.all([mqtt.sendEvent(new device.Message('from mqtt-ws')), amqp.sendEvent(new device.Message('from amqp-ws'))]);
      await expect
        .poll(() => [hub.recording.telemetry({ deviceId: 'ws-mqtt' }).length, hub.recording.telemetry({ deviceId: 'ws-amqp' }).length], { timeout: 5000 })
        .toEqual([1, 1]);
      const transports = hub.recording.entries({ kind: 'connection' }).map((e) => [e.deviceId, (e as { transport?: string }).transport]);
      expect(transports).toContainEqual(['ws-mqtt', 'mqtt-ws']);
      expect(transports).toContainEqual(['ws-amqp', 'amqp-ws']);
      // the MQTT device still gets its twin over the same port
      expect((await mqtt.getTwin()).properties.desired.$version).toBe(1);
    } finally {
      await mqtt.close();
      await amqp.close();
    }
  });
});
