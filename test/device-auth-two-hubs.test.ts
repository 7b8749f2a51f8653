import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import type { Hub } from '../emulator/hub.js';
import { createSasToken } from '../protocol/sas.js';
import { startTestHub } from './support/hub-factory.js';
import { putToken, rawAmqp } from './support/amqp-raw.js';

// Two hubs in one process, as the test helper and these tests run them: the same hub name, each on
// its own 127.0.0.x, the same device id with different keys. Each keeps its own memo of verified
// device tokens (identity/auth.ts), so what one hub accepted is never answered by the other.
const hubName = 'memo-twin-hub.local';
const deviceId = 'same-id';
const keyOf = (n: number): string => Buffer.alloc(32, n).toString('base64');
const inSeconds = (s: number): number => Math.floor(Date.now() / 1000) + s;
const tokenFor = (key: string): string => createSasToken(`${hubName}/devices/${deviceId}`, key, inSeconds(3600));

let first: Hub;
let second: Hub;

beforeAll(async () => {
  first = await startTestHub({ hostName: hubName });
  second = await startTestHub({ hostName: hubName });
  first.registry.create({ deviceId, authentication: { type: 'sas', symmetricKey: { primaryKey: keyOf(1), secondaryKey: keyOf(2) } } });
  second.registry.create({ deviceId, authentication: { type: 'sas', symmetricKey: { primaryKey: keyOf(3), secondaryKey: keyOf(4) } } });
});
afterAll(async () => {
  await first?.stop();
  await second?.stop();
});

/** CONNECT over MQTT/TLS to this hub's own address; resolves true at CONNACK 0, false when refused. */
function connects(hub: Hub, password: string): Promise<boolean> {
  const client = mqtt.connect(`mqtts://${hub.options.host}:${hub.mqttPort}`, {
    clientId: deviceId,
    username: `${hubName}/${deviceId}/?api-version=2021-04-12`,
    password,
    protocolVersion: 4,
    reconnectPeriod: 0,
    clean: true,
    ca: hub.ca,
    servername: hubName,
  });
  return new Promise<boolean>((resolve) => {
    client.once('connect', () => resolve(true));
    client.once('error', () => resolve(false));
    client.once('close', () => resolve(false));
  }).finally(() => client.end(true));
}

describe('two hubs in one process keep their own device-token memo', () => {
  it('refuses on one hub a token the other accepted, and each still accepts its own', async () => {
    const firstToken = tokenFor(keyOf(1));
    const secondToken = tokenFor(keyOf(3));
    expect(first.registry.deviceAuth).not.toBe(second.registry.deviceAuth);

    expect(await connects(first, firstToken)).toBe(true);
    expect(first.registry.deviceAuth.size).toBe(1);
    expect(second.registry.deviceAuth.size).toBe(0);
    expect(await connects(second, firstToken)).toBe(false);
    expect(second.registry.deviceAuth.size).toBe(0);

    expect(await connects(second, secondToken)).toBe(true);
    expect(await connects(first, secondToken)).toBe(false);
    // the second hub's verification displaced nothing of the first's
    expect(await connects(first, firstToken)).toBe(true);
    expect(first.registry.deviceAuth.size).toBe(1);
    expect(second.registry.deviceAuth.size).toBe(1);

    // over AMQP ($cbs put-token) the same
    const amqp = await rawAmqp(second);
    try {
      expect((await putToken(amqp, `${hubName}/devices/${deviceId}`, firstToken)).status).toBe(401);
      expect((await putToken(amqp, `${hubName}/devices/${deviceId}`, secondToken)).status).toBe(200);
    } finally {
      amqp.close();
    }
  });

  it('a key rotated on one hub, or the device deleted there, leaves the other hub answering for itself', async () => {
    const firstToken = tokenFor(keyOf(1));
    const secondToken = tokenFor(keyOf(3));
    expect(await connects(first, firstToken)).toBe(true);
    expect(await connects(second, secondToken)).toBe(true);

    // the first hub's primary key regenerated: its remembered token counts for nothing there
    first.registry.update({ deviceId, authentication: { type: 'sas', symmetricKey: { primaryKey: keyOf(5), secondaryKey: keyOf(2) } } }, '*');
    expect(await connects(first, firstToken)).toBe(false);
    expect(await connects(first, tokenFor(keyOf(5)))).toBe(true);
    expect(await connects(second, secondToken)).toBe(true);

    // the device deleted on the second hub: refused there, the first unaffected
    second.registry.delete(deviceId, '*');
    expect(await connects(second, secondToken)).toBe(false);
    expect(await connects(first, tokenFor(keyOf(5)))).toBe(true);
  });
});
