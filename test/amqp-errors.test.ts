import { EventHubConsumerClient } from '@azure/event-hubs';
import device from 'azure-iot-device';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { createSasToken } from '../protocol/sas.js';
import { consumerFor, openAmqpDevice } from './support/amqp.js';
import { attached, closedConnection, detachedWith, putToken, rawAmqp } from './support/amqp-raw.js';
import { startTestHub } from './support/hub-factory.js';
import { createDevice } from './support/sdk.js';

let hub: Hub;
const soon = (): number => Math.ceil(Date.now() / 1000) + 600;

beforeAll(async () => {
  hub = await startTestHub();
  await createDevice(hub, 'err-a');
  await createDevice(hub, 'err-b');
});
afterAll(() => hub?.stop());

/** The hub still serves everyone else: a fresh Event Hubs client reads its partitions. */
async function hubStillServes(): Promise<void> {
  const consumer = consumerFor(hub);
  try {
    expect(await consumer.getPartitionIds()).toHaveLength(4);
  } finally {
    await consumer.close();
  }
}

const keyOf = (id: string): string => hub.registry.find(id)!.authentication.symmetricKey.primaryKey!;

describe('refused credentials', () => {
  it('an Event Hubs client with a wrong key gets UnauthorizedError', async () => {
    const wrong = hub.eventHubConnectionString().replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
    const consumer = new EventHubConsumerClient('$Default', wrong, { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } });
    try {
      await expect(consumer.getPartitionIds()).rejects.toMatchObject({ code: 'UnauthorizedError' });
    } finally {
      await consumer.close();
    }
  });

  it('a policy without ServiceConnect cannot read the endpoint', async () => {
    const cs = hub.eventHubConnectionString('registryRead');
    const consumer = new EventHubConsumerClient('$Default', cs, { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } });
    try {
      await expect(consumer.getPartitionIds()).rejects.toMatchObject({ code: 'UnauthorizedError' });
    } finally {
      await consumer.close();
    }
  });

  it('an AMQP device with a wrong key gets UnauthorizedError from open()', async () => {
    const cs = hub.deviceConnectionString('err-a').replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
    const client = device.Client.fromConnectionString(cs, (await import('azure-iot-device-amqp')).default.Amqp);
    await expect(client.open()).rejects.toMatchObject({ name: 'UnauthorizedError' });
    await client.close();
  });

  it('put-token answers 200 for a good device token, 401 for a token naming another device, 401 when expired', async () => {
    const connection = await rawAmqp(hub);
    try {
      const audience = `${hub.hostName}/devices/err-a`;
      expect(await putToken(connection, encodeURIComponent(audience), createSasToken(audience, keyOf('err-a'), soon()))).toMatchObject({ status: 200 });
      const other = await putToken(connection, encodeURIComponent(`${hub.hostName}/devices/err-b`), createSasToken(audience, keyOf('err-a'), soon()));
      expect(other.status).toBe(401);
      const expired = await putToken(connection, encodeURIComponent(audience), createSasToken(audience, keyOf('err-a'), Math.floor(Date.now() / 1000) - 10));
      expect(expired).toMatchObject({ status: 401, description: expect.stringMatching(/expired/) });
    } finally {
      connection.close();
    }
  });
});

describe('bad input ends at most that connection', () => {
  it('garbage instead of an AMQP header: the connection is closed, the hub serves on', async () => {
    const socket = tls.connect({ host: hub.options.host, port: hub.amqpPort, servername: 'localhost' });
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.resume();
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.on('error', () => {});
    await closed;
    await hubStillServes();
  });

  it('garbage after a valid header: the connection is closed, the hub serves on', async () => {
    const socket = tls.connect({ host: hub.options.host, port: hub.amqpPort, servername: 'localhost' });
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => {});
    socket.resume();
    socket.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]));
    socket.write(Buffer.from([0, 0, 0, 12, 2, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]));
    await closed;
    await hubStillServes();
  });

  it('an unknown link address is detached with amqp:not-found', async () => {
    const connection = await rawAmqp(hub);
    try {
      const error = await detachedWith(connection.open_receiver({ source: { address: '/devices/err-a/nothing-here' } }));
      expect(error.condition).toBe('amqp:not-found');
      await hubStillServes();
    } finally {
      connection.close();
    }
  });

  it("a device token does not open another device's telemetry link (amqp:unauthorized-access)", async () => {
    const connection = await rawAmqp(hub);
    try {
      const audience = `${hub.hostName}/devices/err-a`;
      expect((await putToken(connection, encodeURIComponent(audience), createSasToken(audience, keyOf('err-a'), soon()))).status).toBe(200);
      await attached(connection.open_sender({ target: { address: '/devices/err-a/messages/events' } }));
      const error = await detachedWith(connection.open_sender({ target: { address: '/devices/err-b/messages/events' } }));
      expect(error.condition).toBe('amqp:unauthorized-access');
      await hubStillServes();
    } finally {
      connection.close();
    }
  });

  it('a link attached before any token is refused with amqp:unauthorized-access', async () => {
    const connection = await rawAmqp(hub);
    try {
      const error = await detachedWith(connection.open_receiver({ source: { address: `${hub.eventHubName}/ConsumerGroups/$Default/Partitions/0` } }));
      expect(error.condition).toBe('amqp:unauthorized-access');
    } finally {
      connection.close();
    }
  });

  it('a message over 256 KB is refused with MessageTooLargeError; the device connection of others carries on', async () => {
    const big = await openAmqpDevice(hub.deviceConnectionString('err-a'));
    const other = await openAmqpDevice(hub.deviceConnectionString('err-b'));
    try {
      await expect(big.sendEvent(new device.Message(Buffer.alloc(300 * 1024, 1)))).rejects.toMatchObject({ name: 'MessageTooLargeError' });
      await other.sendEvent(new device.Message('still here'));
      expect(hub.recording.telemetry({ deviceId: 'err-b' }).length).toBeGreaterThan(0);
    } finally {
      await big.close();
      await other.close();
    }
  });

  it('a token expiring without renewal closes the device connection', async () => {
    const connection = await rawAmqp(hub);
    const closed = closedConnection(connection);
    const audience = `${hub.hostName}/devices/err-b`;
    expect(await putToken(connection, encodeURIComponent(audience), createSasToken(audience, keyOf('err-b'), Math.ceil(Date.now() / 1000) + 2))).toMatchObject({
      status: 200,
    });
    await expect(closed).resolves.toBeDefined();
    expect(connection.error).toMatchObject({ condition: 'amqp:unauthorized-access' });
  });
});
