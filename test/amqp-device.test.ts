import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import device from 'azure-iot-device';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { openAmqpDevice, type AmqpTransportName } from './support/amqp.js';
import { createDevice, registryFor, type TwinJson } from './support/sdk.js';

let hub: Hub;

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

describe.each<AmqpTransportName>(['Amqp', 'AmqpWs'])('an azure-iot-device client over %s', (transport) => {
  it('connects through CBS, shows Connected, and sends telemetry into the hub telemetry path', async () => {
    const id = `amqp-tel-${transport}`;
    const client = await openAmqpDevice(await createDevice(hub, id), transport);
    try {
      const message = new device.Message(JSON.stringify({ temperature: 21.5 }));
      message.messageId = 'm-1';
      message.correlationId = 'c-1';
      message.contentType = 'application/json';
      message.contentEncoding = 'utf-8';
      message.properties.add('alert', 'yes');
      await client.sendEvent(message);
      const [entry] = await vi.waitFor(
        () => {
          const t = hub.recording.telemetry({ deviceId: id });
          if (t.length === 0) throw new Error('no telemetry yet');
          return t;
        },
        { timeout: 5000 },
      );
      expect(entry.properties).toMatchObject({ alert: 'yes', '$.mid': 'm-1', '$.cid': 'c-1', '$.ct': 'application/json', '$.ce': 'utf-8' });
      const twin = (await registryFor(hub).getTwin(id)).responseBody as TwinJson;
      expect(twin.connectionState).toBe('Connected');
      expect(hub.recording.entries({ kind: 'connection', deviceId: id })[0]).toMatchObject({ transport: transport === 'Amqp' ? 'amqp' : 'amqp-ws' });
    } finally {
      await client.close();
    }
    await expect.poll(async () => ((await registryFor(hub).getTwin(id)).responseBody as TwinJson).connectionState, { timeout: 5000 }).toBe('Disconnected');
  });
});
