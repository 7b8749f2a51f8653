import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import device from 'azure-iot-device';
import type { Hub } from '../emulator/hub.js';
import { createSasToken } from '../protocol/sas.js';
import { wellKnownPolicies } from '../emulator/identity/policies.js';
import { startTestHub } from './support/hub-factory.js';
import { closed, connectRaw } from './support/raw-device.js';
import { createDevice, openDevice, transports } from './support/sdk.js';

let hub: Hub;

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

const inSeconds = (s: number): number => Math.floor(Date.now() / 1000) + s;

describe('device authentication (SAS over MQTT)', () => {
  it('refuses a wrong key with UnauthorizedError (CONNACK 5)', async () => {
    await createDevice(hub, 'a-wrong');
    const wrong = `HostName=${hub.hostName};DeviceId=a-wrong;SharedAccessKey=${Buffer.alloc(32, 1).toString('base64')}`;
    const error = await openDevice(wrong).catch((e) => e);
    expect(error.constructor.name).toBe('UnauthorizedError');
  });

  it('refuses an expired token given as SharedAccessSignature', async () => {
    await createDevice(hub, 'a-expired');
    const key = hub.registry.get('a-expired').authentication.symmetricKey.primaryKey!;
    const sas = createSasToken(`${hub.hostName}/devices/a-expired`, key, inSeconds(-60));
    const client = device.Client.fromSharedAccessSignature(sas, transports.Mqtt);
    const error = await client.open().catch((e: Error) => e);
    expect(error?.constructor.name).toBe('UnauthorizedError');
  });

  it('accepts the secondary key and a token signed by the device policy', async () => {
    await createDevice(hub, 'a-alt');
    const record = hub.registry.get('a-alt');
    const secondary = await openDevice(`HostName=${hub.hostName};DeviceId=a-alt;SharedAccessKey=${record.authentication.symmetricKey.secondaryKey}`);
    await secondary.close();
    const policy = wellKnownPolicies.find((p) => p.keyName === 'device')!;
    const viaPolicy = await connectRaw(hub, 'a-alt', { password: createSasToken(`${hub.hostName}/devices/a-alt`, policy.primaryKey, inSeconds(60), 'device') });
    await viaPolicy.endAsync();
    const service = wellKnownPolicies.find((p) => p.keyName === 'service')!;
    const refused = await connectRaw(hub, 'a-alt', {
      password: createSasToken(`${hub.hostName}/devices/a-alt`, service.primaryKey, inSeconds(60), 'service'),
    }).catch((e) => e);
    expect(String(refused)).toMatch(/Not authorized/i);
  });

  it("refuses a token for another device's resource", async () => {
    await createDevice(hub, 'a-one');
    await createDevice(hub, 'a-two');
    const keyOfTwo = hub.registry.get('a-two').authentication.symmetricKey.primaryKey!;
    const error = await connectRaw(hub, 'a-one', { password: createSasToken(`${hub.hostName}/devices/a-two`, keyOfTwo, inSeconds(60)) }).catch((e) => e);
    expect(String(error)).toMatch(/Not authorized/i);
  });

  it('disconnects a device whose token expires while connected', async () => {
    await createDevice(hub, 'a-short');
    const key = hub.registry.get('a-short').authentication.symmetricKey.primaryKey!;
    const client = await connectRaw(hub, 'a-short', { password: createSasToken(`${hub.hostName}/devices/a-short`, key, inSeconds(2)) });
    expect(await closed(client, 5000)).toBe(true);
  });
});

describe('protocol violations close only the offending connection', () => {
  it('QoS 2, an undocumented subscription and an unknown topic each close the connection', async () => {
    await createDevice(hub, 'a-bystander');
    const bystander = await connectRaw(hub, 'a-bystander');
    await bystander.subscribeAsync('$iothub/twin/res/#');
    for (const [i, misbehave] of [
      (c: Awaited<ReturnType<typeof connectRaw>>) => c.publish('devices/a-bad0/messages/events/', 'x', { qos: 2 }),
      (c: Awaited<ReturnType<typeof connectRaw>>) => c.subscribe('devices/a-bystander/messages/devicebound/#'),
      (c: Awaited<ReturnType<typeof connectRaw>>) => c.publish('some/topic', 'x'),
    ].entries()) {
      await createDevice(hub, `a-bad${i}`);
      const bad = await connectRaw(hub, `a-bad${i}`);
      const gone = closed(bad);
      misbehave(bad);
      expect(await gone).toBe(true);
    }
    const answer = new Promise<string>((resolve) => bystander.on('message', (topic) => resolve(topic)));
    await bystander.publishAsync('$iothub/twin/GET/?$rid=7', ' ');
    expect(await answer).toBe('$iothub/twin/res/200/?$rid=7');
    await bystander.endAsync();
  });

  it('answers a bad reported patch with 400 over MQTT without closing the connection', async () => {
    await createDevice(hub, 'a-badpatch');
    const raw = await connectRaw(hub, 'a-badpatch');
    await raw.subscribeAsync('$iothub/twin/res/#');
    const answers: { topic: string; body: string }[] = [];
    raw.on('message', (topic, body) => answers.push({ topic, body: body.toString() }));
    await raw.publishAsync('$iothub/twin/PATCH/properties/reported/?$rid=1', '{not json');
    await raw.publishAsync('$iothub/twin/PATCH/properties/reported/?$rid=2', JSON.stringify({ big: 'x'.repeat(5000) }));
    await raw.publishAsync('$iothub/twin/PATCH/properties/reported/?$rid=3', JSON.stringify({ ok: 1 }));
    await expect.poll(() => answers.length, { timeout: 5000 }).toBe(3);
    expect(answers.map((a) => a.topic)).toEqual(['$iothub/twin/res/400/?$rid=1', '$iothub/twin/res/400/?$rid=2', '$iothub/twin/res/204/?$rid=3&$version=2']);
    expect(JSON.parse(answers[0].body).errorCode).toBe(400004);
    expect(raw.connected).toBe(true);
    await raw.endAsync();
  });

  it('rejects a username that does not name the client id', async () => {
    await createDevice(hub, 'a-user');
    const { default: mqtt } = await import('mqtt');
    const client = mqtt.connect(`mqtts://${hub.hostName}:${hub.mqttPort}`, {
      clientId: 'a-user',
      username: `${hub.hostName}/someone-else/?api-version=2021-04-12`,
      password: 'x',
      reconnectPeriod: 0,
      ca: hub.ca,
    });
    const error = await new Promise<Error>((resolve) => client.once('error', resolve));
    expect(String(error)).toMatch(/Bad username or password/i);
    client.end(true);
  });
});
