import { Message } from 'azure-iot-device';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Hub } from '../cli/start-hub.js';
import { startTestHub } from './support/hub-factory.js';
import { connectRaw } from './support/raw-device.js';
import { createDevice, openDevice, registryFor, rest, serviceClientFor, type TransportName } from './support/sdk.js';

let hub: Hub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

function connectionEvents(deviceId: string, since: number): { event: string; time: number }[] {
  return hub.recording.entries({ kind: 'connection', deviceId, since }).map((e) => ({ event: e.event, time: Date.parse(e.time) }));
}

describe('faults a device asks for (AzIoTHub_FaultOperationType)', () => {
  const cases: [TransportName, 'KillTcp' | 'ShutDownMqtt'][] = [
    ['Mqtt', 'KillTcp'],
    ['Mqtt', 'ShutDownMqtt'],
    ['MqttWs', 'KillTcp'],
    ['MqttWs', 'ShutDownMqtt'],
  ];
  it.each(cases)('%s device sending %s is dropped after the delay, reconnects by itself and loses no desired patch or method', async (transport, kind) => {
    const id = `fault-${transport}-${kind}`;
    const client = await openDevice(await createDevice(hub, id), transport);
    try {
      const desired: Record<string, unknown>[] = [];
      const twin = await client.getTwin();
      twin.on('properties.desired', (patch: Record<string, unknown>) => desired.push(patch));
      client.onDeviceMethod('lockDoor', (_request, response) => void response.send(200, { locked: true }));
      await vi.waitFor(() => expect(hub.connections.isSubscribed(id, 'methods')).toBe(true), { timeout: 5000 });
      const since = hub.recording.lastSeq;
      const fault = new Message('fault');
      fault.properties.add('AzIoTHub_FaultOperationType', kind);
      fault.properties.add('AzIoTHub_FaultOperationCloseReason', 'boom');
      fault.properties.add('AzIoTHub_FaultOperationDelayInSecs', '1');
      fault.properties.add('AzIoTHub_FaultOperationDurationInSecs', '2');
      const sentAt = Date.now();
      await client.sendEvent(fault);
      // Dropped after the delay, refused while the fault lasts, then back by itself.
      await vi.waitFor(() => expect(connectionEvents(id, since).map((e) => e.event)).toEqual(['disconnected', 'connected']), { timeout: 30_000, interval: 100 });
      const [dropped, back] = connectionEvents(id, since);
      expect(dropped.time - sentAt).toBeGreaterThanOrEqual(900);
      expect(back.time - dropped.time).toBeGreaterThanOrEqual(1500);
      // Still served: a desired patch made now and a method call reach it.
      await registryFor(hub).updateTwin(id, { properties: { desired: { afterFault: kind } } }, '*');
      await vi.waitFor(() => expect(desired.some((p) => p.afterFault === kind)).toBe(true), { timeout: 10_000 });
      const answer = await serviceClientFor(hub).invokeDeviceMethod(id, { methodName: 'lockDoor', payload: {}, responseTimeoutInSeconds: 10, connectTimeoutInSeconds: 10 });
      expect(answer.result).toEqual({ status: 200, payload: { locked: true } });
    } finally {
      await client.close().catch(() => undefined);
    }
  }, 60_000);
});

describe('the chaos API (/$emulator/faults)', () => {
  it('fails about half of the method calls with a seeded 50% rule, exactly the same calls again with the same seed, none once removed', async () => {
    const id = 'chaos-methods';
    const client = await openDevice(await createDevice(hub, id));
    const service = serviceClientFor(hub);
    try {
      client.onDeviceMethod('lockDoor', (_request, response) => void response.send(200, { locked: true }));
      await vi.waitFor(() => expect(hub.connections.isSubscribed(id, 'methods')).toBe(true), { timeout: 5000 });
      // Bare calls, so every answer is seen: the service SDK retries a 500 by itself (checked below).
      const run = async (): Promise<boolean[]> => {
        const outcome: boolean[] = [];
        for (let i = 0; i < 40; i++) {
          const answer = await rest(hub, 'POST', `/twins/${id}/methods`, { methodName: 'lockDoor', payload: {}, responseTimeoutInSeconds: 5 });
          if (answer.status !== 200) {
            expect(answer.status).toBe(500);
            expect(answer.headers.get('iothub-errorcode')).toBe('ServerError');
          }
          outcome.push(answer.status === 200);
        }
        return outcome;
      };
      const since = hub.recording.lastSeq;
      const rule = { kind: 'failOperations', operation: 'methods', status: 500, fraction: 0.5, seed: 42 };
      const first = await rest(hub, 'POST', '/$emulator/faults', rule);
      expect(first.status).toBe(201);
      expect(first.json).toMatchObject({ kind: 'failOperations', errorCode: 'ServerError', status: 500, seed: 42 });
      const a = await run();
      expect(a.filter((ok) => !ok).length).toBeGreaterThanOrEqual(10);
      expect(a.filter((ok) => !ok).length).toBeLessThanOrEqual(30);
      expect((await rest(hub, 'DELETE', `/$emulator/faults/${first.json.id}`)).status).toBe(204);
      const second = await rest(hub, 'POST', '/$emulator/faults', rule);
      expect((await rest(hub, 'GET', '/$emulator/faults')).json.rules.map((r: { id: string }) => r.id)).toEqual([second.json.id]);
      expect(await run()).toEqual(a);
      // The SDK's own retry policy takes a failed call again until it succeeds.
      const viaSdk = await service.invokeDeviceMethod(id, { methodName: 'lockDoor', payload: {}, responseTimeoutInSeconds: 5 });
      expect(viaSdk.result.status).toBe(200);
      expect((await rest(hub, 'DELETE', '/$emulator/faults')).status).toBe(204);
      expect((await run()).every(Boolean)).toBe(true);
      const applied = hub.recording.entries({ kind: 'fault', since });
      expect(applied.filter((e) => e.event === 'added')).toHaveLength(2);
      expect(applied.some((e) => e.event === 'applied' && e.what === 'failed with ServerError')).toBe(true);
    } finally {
      await client.close().catch(() => undefined);
    }
  }, 60_000);

  it('refuses bad rules with 400 and a message naming the field', async () => {
    const cases: [object, RegExp][] = [
      [{ kind: 'explode' }, /'kind'/],
      [{ kind: 'failOperations', operation: 'methods', status: 500, fraction: 1.5 }, /'fraction'/],
      [{ kind: 'failOperations', operation: 'methods', status: 418 }, /'status'/],
      [{ kind: 'refuseConnects', connackCode: 7 }, /'connackCode'/],
      [{ kind: 'dropConnections', target: { deviceId: 'a', prefix: 'b' } }, /'target.deviceId'/],
    ];
    for (const [rule, field] of cases) {
      const answer = await rest(hub, 'POST', '/$emulator/faults', rule);
      expect(answer.status).toBe(400);
      expect(answer.headers.get('iothub-errorcode')).toBe('ArgumentInvalid');
      expect(answer.json.Message).toMatch(field);
    }
    const notJson = await rest(hub, 'POST', '/$emulator/faults', '{nope');
    expect(notJson.status).toBe(400);
    expect((await rest(hub, 'GET', '/$emulator/faults')).json.rules).toEqual([]);
  });

  it('drops the connections a prefix names, refuses their connects for a while, and fails twin reads on a route', async () => {
    await createDevice(hub, 'cam-1');
    await createDevice(hub, 'door-1');
    const cam = await connectRaw(hub, 'cam-1');
    const door = await connectRaw(hub, 'door-1');
    try {
      const dropped = await rest(hub, 'POST', '/$emulator/faults', { kind: 'dropConnections', target: { prefix: 'cam-' } });
      expect(dropped.json.affected).toEqual(['cam-1']);
      await vi.waitFor(() => expect(hub.connections.current('cam-1')).toBeUndefined());
      expect(hub.connections.current('door-1')).toBeDefined();
      await rest(hub, 'POST', '/$emulator/faults', { kind: 'refuseConnects', target: { deviceId: 'cam-1' }, connackCode: 5, durationSeconds: 60 });
      await expect(connectRaw(hub, 'cam-1')).rejects.toThrow(/Not authorized/);
      await rest(hub, 'POST', '/$emulator/faults', { kind: 'failOperations', operation: 'rest', route: '/twins/door-1', method: 'GET', errorCode: 'ServiceUnavailable' });
      const refused = await rest(hub, 'GET', '/twins/door-1');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('iothub-errorcode')).toBe('ServiceUnavailable');
      expect((await rest(hub, 'GET', '/twins/cam-1')).status).toBe(200);
      await rest(hub, 'DELETE', '/$emulator/faults');
      expect((await rest(hub, 'GET', '/twins/door-1')).status).toBe(200);
      (await connectRaw(hub, 'cam-1')).end(true);
    } finally {
      cam.end(true);
      door.end(true);
    }
  });

  it('drops a share of telemetry after acknowledging it, and a simulated restart drops every device for a while', async () => {
    await createDevice(hub, 'tele-1');
    const device = await connectRaw(hub, 'tele-1', { clean: true });
    try {
      await rest(hub, 'POST', '/$emulator/faults', { kind: 'dropTelemetry', target: { deviceId: 'tele-1' }, fraction: 1 });
      const since = hub.recording.lastSeq;
      await device.publishAsync('devices/tele-1/messages/events/', 'lost', { qos: 1 });
      expect(hub.recording.entries({ kind: 'telemetry', deviceId: 'tele-1', since })).toEqual([]);
      await rest(hub, 'DELETE', '/$emulator/faults');
      await device.publishAsync('devices/tele-1/messages/events/', 'kept', { qos: 1 });
      expect(hub.recording.entries({ kind: 'telemetry', deviceId: 'tele-1', since }).map((e) => e.payload)).toEqual(['kept']);
      const restart = await rest(hub, 'POST', '/$emulator/faults', { kind: 'restart', durationSeconds: 1 });
      expect(restart.json.affected).toContain('tele-1');
      await expect(connectRaw(hub, 'tele-1')).rejects.toThrow(/Server unavailable/);
      await vi.waitFor(async () => (await connectRaw(hub, 'tele-1')).end(true), { timeout: 10_000, interval: 250 });
      expect(hub.faults.list()).toEqual([]);
    } finally {
      device.end(true);
    }
  });
});
