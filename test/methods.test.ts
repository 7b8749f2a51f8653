import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { createSasToken } from '../protocol/sas.js';
import { wellKnownPolicies } from '../emulator/identity/policies.js';

const registryRead = wellKnownPolicies.find((p) => p.keyName === 'registryRead')!;
import { closed, connectRaw } from './support/raw-device.js';
import { createDevice, openDevice, registryFor, rest, serviceClientFor, type TransportName, type TwinJson } from './support/sdk.js';
import { waitUntil } from './support/wait.js';

let hub: Hub;
let service: ReturnType<typeof serviceClientFor>;

beforeAll(async () => {
  hub = await startTestHub();
  service = serviceClientFor(hub);
});
afterAll(() => hub?.stop());

async function lockDoorDevice(id: string, transport: TransportName = 'Mqtt') {
  const client = await openDevice(await createDevice(hub, id), transport);
  const requests: unknown[] = [];
  client.onDeviceMethod('lockDoor', (request, response) => {
    requests.push(request.payload);
    response.send(200, { locked: true, by: (request.payload as { by?: string } | null)?.by ?? null });
  });
  await waitUntil(() => hub.connections.isSubscribed(id, 'methods'), 3000, 'methods subscription');
  return { client, requests };
}

describe('direct methods through azure-iothub Client.invokeDeviceMethod', () => {
  it.each<TransportName>(['Mqtt', 'MqttWs'])('calls lockDoor on a %s device and returns its answer', async (transport) => {
    const { client, requests } = await lockDoorDevice(`m-lock-${transport}`, transport);
    try {
      const result = await service.invokeDeviceMethod(`m-lock-${transport}`, { methodName: 'lockDoor', payload: { by: 'alice' }, responseTimeoutInSeconds: 5 });
      expect(result.result).toEqual({ status: 200, payload: { locked: true, by: 'alice' } });
      expect(requests).toEqual([{ by: 'alice' }]);
    } finally {
      await client.close();
    }
  });

  it('delivers "payload": null to the device as null', async () => {
    const { client, requests } = await lockDoorDevice('m-null');
    try {
      const result = await service.invokeDeviceMethod('m-null', { methodName: 'lockDoor', payload: null, responseTimeoutInSeconds: 5 } as never);
      expect(result.result.status).toBe(200);
      expect(requests).toEqual([null]);
    } finally {
      await client.close();
    }
  });

  it('answers 404103 DeviceNotOnline for a device that is not connected', async () => {
    await createDevice(hub, 'm-offline');
    const response = await rest(hub, 'POST', '/twins/m-offline/methods?api-version=2021-04-12', {
      methodName: 'lockDoor',
      payload: null,
      responseTimeoutInSeconds: 5,
      connectTimeoutInSeconds: 0,
    });
    expect(response.status).toBe(404);
    expect(response.headers.get('iothub-errorcode')).toBe('DeviceNotOnline');
    expect(response.json.ExceptionMessage).toBe('');
    const inner = JSON.parse(response.json.Message);
    expect(inner.errorCode).toBe(404103);
    expect(inner.message).toMatch(/isn't online or hasn't registered the direct method callback/);

    const error = await service.invokeDeviceMethod('m-offline', { methodName: 'lockDoor', responseTimeoutInSeconds: 5 }).catch((e) => e);
    expect(error.response.statusCode).toBe(404);
  });

  it('a connected device that never subscribed to methods is not online for methods', async () => {
    await createDevice(hub, 'm-nosub');
    const raw = await connectRaw(hub, 'm-nosub');
    try {
      const response = await rest(hub, 'POST', '/twins/m-nosub/methods', { methodName: 'lockDoor', responseTimeoutInSeconds: 5 });
      expect(response.status).toBe(404);
      expect(JSON.parse(response.json.Message).errorCode).toBe(404103);
    } finally {
      await raw.endAsync();
    }
  });

  it('answers 404 DeviceNotFound for an unknown device', async () => {
    const response = await rest(hub, 'POST', '/twins/m-unknown/methods', { methodName: 'lockDoor', responseTimeoutInSeconds: 5 });
    expect(response.status).toBe(404);
    expect(response.headers.get('iothub-errorcode')).toBe('DeviceNotFound');
  });

  it('waits connectTimeoutInSeconds for a device to come online', async () => {
    const cs = await createDevice(hub, 'm-late');
    const call = service.invokeDeviceMethod('m-late', {
      methodName: 'lockDoor',
      payload: { by: 'late' },
      responseTimeoutInSeconds: 5,
      connectTimeoutInSeconds: 5,
    });
    // The device comes 300 ms after the call (the scenario, not a wait for something): the hub
    // publishes no event while a call waits for its device.
    await new Promise((r) => setTimeout(r, 300));
    const client = await openDevice(cs);
    client.onDeviceMethod('lockDoor', (_req, res) => res.send(201, 'done'));
    try {
      expect((await call).result).toEqual({ status: 201, payload: 'done' });
    } finally {
      await client.close();
    }
  });

  it('answers 504101 GatewayTimeout when the device never answers', async () => {
    const client = await openDevice(await createDevice(hub, 'm-silent'));
    client.onDeviceMethod('lockDoor', () => undefined);
    await waitUntil(() => hub.connections.isSubscribed('m-silent', 'methods'), 3000, 'methods subscription');
    try {
      const started = Date.now();
      const response = await rest(hub, 'POST', '/twins/m-silent/methods', { methodName: 'lockDoor', responseTimeoutInSeconds: 5 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(4900);
      expect(response.status).toBe(504);
      expect(response.headers.get('iothub-errorcode')).toBe('GatewayTimeout');
      const inner = JSON.parse(response.json.Message);
      expect(inner.errorCode).toBe(504101);
      expect(inner.message).toBe('Timed out waiting for the response from device.');
    } finally {
      await client.close();
    }
  }, 15_000);

  it('validates the request: timeouts, method name and the 128 KB payload limit', async () => {
    await createDevice(hub, 'm-valid');
    const call = (body: object) => rest(hub, 'POST', '/twins/m-valid/methods', body);
    expect((await call({ methodName: 'x', responseTimeoutInSeconds: 4 })).status).toBe(400);
    expect((await call({ methodName: 'x', responseTimeoutInSeconds: 301 })).status).toBe(400);
    expect((await call({ methodName: 'x', connectTimeoutInSeconds: 301 })).status).toBe(400);
    expect((await call({ responseTimeoutInSeconds: 5 })).headers.get('iothub-errorcode')).toBe('ArgumentNull');
    const big = await call({ methodName: 'x', payload: 'x'.repeat(128 * 1024), responseTimeoutInSeconds: 5 });
    expect(big.status).toBe(413);
    expect(big.headers.get('iothub-errorcode')).toBe('MessageTooLarge');
  });

  it('answers the method route like every other: auth, path forms, body limits', async () => {
    const { client } = await lockDoorDevice('m-route');
    try {
      const body = { methodName: 'lockDoor', responseTimeoutInSeconds: 5 };
      expect((await rest(hub, 'POST', '/TWINS/m-route/Methods/?api-version=2021-04-12', body)).json).toEqual({
        status: 200,
        payload: { locked: true, by: null },
      });
      const readOnly = await rest(hub, 'POST', '/twins/m-route/methods', body, {
        authorization: createSasToken(hub.hostName, registryRead.primaryKey, Math.floor(Date.now() / 1000) + 60, 'registryRead'),
      });
      expect(readOnly.status).toBe(401);
      expect(readOnly.headers.get('iothub-errorcode')).toBe('IotHubUnauthorizedAccess');
      const noAuth = await rest(hub, 'POST', '/twins/m-route/methods', body, { authorization: '' });
      expect(noAuth.status).toBe(401);
      const badPath = await rest(hub, 'POST', '/twins/%E0%A4%A/methods', body);
      expect(badPath.status).toBe(400);
      const badJson = await rest(hub, 'POST', '/twins/m-route/methods', '{"methodName":');
      expect(badJson.status).toBe(400);
      expect(badJson.json.Message).toMatch(/^ErrorCode:ArgumentInvalid;The request body is not valid JSON/);
      expect(badJson.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const huge = await rest(hub, 'POST', '/twins/m-route/methods', JSON.stringify({ methodName: 'x', payload: 'x'.repeat(1100 * 1024) }));
      expect(huge.status).toBe(413);
      expect((await rest(hub, 'GET', '/twins/m-route/methods')).status).toBe(404);
    } finally {
      await client.close();
    }
  });

  it("one device cannot answer or receive another device's method calls", async () => {
    const { client: victim, requests } = await lockDoorDevice('m-victim');
    await createDevice(hub, 'm-thief');
    const thief = await connectRaw(hub, 'm-thief');
    const stolen: string[] = [];
    thief.on('message', (topic) => stolen.push(topic));
    await thief.subscribeAsync('$iothub/methods/POST/#');
    try {
      const result = await service.invokeDeviceMethod('m-victim', { methodName: 'lockDoor', payload: { by: 'owner' }, responseTimeoutInSeconds: 5 });
      expect(result.result.payload).toEqual({ locked: true, by: 'owner' });
      expect(requests).toHaveLength(1);
      expect(stolen).toEqual([]);
      // Publishing onto the victim's telemetry topic is a protocol violation: the thief is dropped.
      const dropped = closed(thief);
      thief.publish('devices/m-victim/messages/events/', 'spoof');
      expect(await dropped).toBe(true);
    } finally {
      await victim.close();
      await thief.endAsync().catch(() => undefined);
    }
  });

  it('keeps answering after a device replies with non-JSON (502) and records Connected state', async () => {
    await createDevice(hub, 'm-garbage');
    const raw = await connectRaw(hub, 'm-garbage');
    await raw.subscribeAsync('$iothub/methods/POST/#');
    raw.on('message', (topic) => {
      const rid = /\$rid=([^&]+)/.exec(topic)![1];
      raw.publish(`$iothub/methods/res/200/?$rid=${rid}`, 'not json');
    });
    try {
      const response = await rest(hub, 'POST', '/twins/m-garbage/methods', { methodName: 'x', responseTimeoutInSeconds: 5 });
      expect(response.status).toBe(502);
      expect(response.headers.get('iothub-errorcode')).toBe('InvalidResponseWhileProxying');
      expect(((await registryFor(hub).getTwin('m-garbage')).responseBody as TwinJson).connectionState).toBe('Connected');
    } finally {
      await raw.endAsync();
    }
  });
});
