import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { DESIRED_FILTER, METHODS_FILTER, TWIN_RESPONSE_FILTER, c2dFilter } from '../protocol/topics.js';
import { startTestHub, tempDataDir } from './support/hub-factory.js';
import { closed, connectRaw } from './support/raw-device.js';
import { createDevice, registryFor, serviceClientFor } from './support/sdk.js';
import { waitUntil } from './support/wait.js';

// IoT Hub's device filters are kept outside aedes' shared topic trie, and sessions are written in
// batches (docs/scaling.md §3.3): what a device sees of its subscriptions must not change.
let hub: Hub;

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

/** Collects the topics a raw client receives. */
function inbox(client: MqttClient): string[] {
  const topics: string[] = [];
  client.on('message', (topic) => topics.push(topic));
  return topics;
}

/** A twin GET answered on the connection: everything the hub sent before it has arrived (one connection is ordered). */
async function roundTrip(client: MqttClient, topics: string[], rid: string): Promise<void> {
  client.publish(`$iothub/twin/GET/?$rid=${rid}`, '');
  await waitUntil(() => topics.some((t) => t.startsWith('$iothub/twin/res/200/') && t.includes(`$rid=${rid}`)), 5000, `the twin GET answer ${rid}`);
}

function invoke(deviceId: string, connectTimeoutInSeconds = 0) {
  return serviceClientFor(hub)
    .invokeDeviceMethod(deviceId, { methodName: 'ping', payload: {}, responseTimeoutInSeconds: 5, connectTimeoutInSeconds })
    .then(
      (r) => ({ ok: true as const, status: r.result.status }),
      (e: { responseBody?: string; statusCode?: number; response?: { statusCode?: number } }) => ({
        ok: false as const,
        status: e.response?.statusCode ?? e.statusCode,
        body: String(e.responseBody ?? ''),
      }),
    );
}

/** The hub has attached the device's newest connection (it does so just after its CONNACK is written). */
async function attached(on: Hub, deviceId: string): Promise<void> {
  await waitUntil(
    () => {
      const client = on.connections.current(deviceId);
      return client !== undefined && !client.closed;
    },
    5000,
    `${deviceId} attached`,
  );
}

/** Answers every direct method with 200 on a raw client. */
function answerMethods(client: MqttClient): void {
  client.on('message', (topic) => {
    const match = /^\$iothub\/methods\/POST\/[^/]+\/\?\$rid=(.+)$/.exec(topic);
    if (match) client.publish(`$iothub/methods/res/200/?$rid=${match[1]}`, '{}');
  });
}

describe('subscriptions kept outside the shared trie', () => {
  it('a filter the hub does not offer closes that connection only; the others keep their deliveries', async () => {
    await createDevice(hub, 'sub-bad');
    await createDevice(hub, 'sub-good');
    const good = await connectRaw(hub, 'sub-good', { clean: true });
    answerMethods(good);
    await good.subscribeAsync(METHODS_FILTER);
    const bad = await connectRaw(hub, 'sub-bad', { clean: true });
    await bad.subscribeAsync(METHODS_FILTER);
    // Another device's C2D filter, then a wildcard: each closes the connection (docs/protocol.md §1.9).
    bad.subscribe(c2dFilter('sub-good'));
    expect(await closed(bad, 5000)).toBe(true);
    const wild = await connectRaw(hub, 'sub-bad', { clean: true });
    wild.subscribe('#');
    expect(await closed(wild, 5000)).toBe(true);
    expect(await invoke('sub-good')).toEqual({ ok: true, status: 200 });
    expect((await invoke('sub-bad')).status).toBe(404);
    await good.endAsync();
  });

  it('after UNSUBSCRIBE nothing more is delivered on that filter; subscribing again brings it back', async () => {
    await createDevice(hub, 'sub-unsub');
    const client = await connectRaw(hub, 'sub-unsub', { clean: true });
    const topics = inbox(client);
    answerMethods(client);
    await client.subscribeAsync([METHODS_FILTER, TWIN_RESPONSE_FILTER, DESIRED_FILTER]);
    const registry = registryFor(hub);

    await registry.updateTwin('sub-unsub', { properties: { desired: { n: 1 } } }, '*');
    await waitUntil(() => topics.some((t) => t.startsWith('$iothub/twin/PATCH/properties/desired/')), 5000, 'the first desired patch');
    expect(await invoke('sub-unsub')).toEqual({ ok: true, status: 200 });

    await client.unsubscribeAsync([DESIRED_FILTER, METHODS_FILTER]);
    expect(hub.connections.isSubscribed('sub-unsub', 'desired')).toBe(false);
    expect(hub.connections.isSubscribed('sub-unsub', 'methods')).toBe(false);
    const desiredBefore = topics.filter((t) => t.startsWith('$iothub/twin/PATCH/properties/desired/')).length;
    await registry.updateTwin('sub-unsub', { properties: { desired: { n: 2 } } }, '*');
    const offline = await invoke('sub-unsub');
    expect(offline.ok).toBe(false);
    expect(offline.status).toBe(404);
    await roundTrip(client, topics, 'after-unsubscribe');
    expect(topics.filter((t) => t.startsWith('$iothub/twin/PATCH/properties/desired/')).length).toBe(desiredBefore);
    expect(topics.some((t) => t.startsWith('$iothub/methods/POST/'))).toBe(true); // only the first call

    await client.subscribeAsync([DESIRED_FILTER, METHODS_FILTER]);
    await registry.updateTwin('sub-unsub', { properties: { desired: { n: 3 } } }, '*');
    await waitUntil(
      () => topics.filter((t) => t.startsWith('$iothub/twin/PATCH/properties/desired/')).length === desiredBefore + 1,
      5000,
      'the desired patch after subscribing again',
    );
    expect(await invoke('sub-unsub')).toEqual({ ok: true, status: 200 });
    await client.endAsync();
  });

  it('many devices on the same filters: those that leave stop receiving, the one that stays still receives', async () => {
    const ids = ['sub-many-0', 'sub-many-1', 'sub-many-2', 'sub-many-3'];
    for (const id of ids) await createDevice(hub, id);
    const clients = await Promise.all(ids.map((id) => connectRaw(hub, id, { clean: true })));
    for (const c of clients) answerMethods(c);
    await Promise.all(clients.map((c) => c.subscribeAsync([METHODS_FILTER, TWIN_RESPONSE_FILTER])));
    for (const id of ids) expect(await invoke(id)).toEqual({ ok: true, status: 200 });
    // The first, a middle and the last to subscribe leave (one by DISCONNECT, two by a dropped socket).
    await clients[0]!.endAsync();
    clients[1]!.stream.destroy();
    clients[3]!.stream.destroy();
    await waitUntil(() => !hub.connections.current('sub-many-1') && !hub.connections.current('sub-many-3'), 5000, 'the dropped sockets to be seen');
    for (const id of [ids[0]!, ids[1]!, ids[3]!]) expect((await invoke(id)).status).toBe(404);
    expect(await invoke('sub-many-2')).toEqual({ ok: true, status: 200 });
    await clients[2]!.endAsync();
  });

  it('CleanSession=0 keeps the subscriptions over a reconnect; CleanSession=1 drops them', async () => {
    await createDevice(hub, 'sub-session');
    const first = await connectRaw(hub, 'sub-session', { clean: false });
    await first.subscribeAsync([METHODS_FILTER, TWIN_RESPONSE_FILTER]);
    await first.endAsync();

    // Resumed: sessionPresent, and deliveries without subscribing again.
    await waitUntil(() => !hub.connections.current('sub-session'), 5000, 'the first connection to be gone');
    const resumed = await connectRaw(hub, 'sub-session', { clean: false });
    const topics = inbox(resumed);
    answerMethods(resumed);
    await attached(hub, 'sub-session');
    expect(hub.connections.isSubscribed('sub-session', 'methods')).toBe(true);
    expect(await invoke('sub-session')).toEqual({ ok: true, status: 200 });
    await roundTrip(resumed, topics, 'resumed');
    await resumed.endAsync();

    // A clean session starts with nothing, and the stored one is gone for the next resume too.
    await waitUntil(() => !hub.connections.current('sub-session'), 5000, 'the resumed connection to be gone');
    const clean = await connectRaw(hub, 'sub-session', { clean: true });
    await attached(hub, 'sub-session');
    expect(hub.connections.isSubscribed('sub-session', 'methods')).toBe(false);
    expect((await invoke('sub-session')).status).toBe(404);
    await clean.endAsync();
    await waitUntil(() => !hub.connections.current('sub-session'), 5000, 'the clean connection to be gone');
    const again = await connectRaw(hub, 'sub-session', { clean: false });
    await attached(hub, 'sub-session');
    expect(hub.connections.isSubscribed('sub-session', 'methods')).toBe(false);
    await again.subscribeAsync(METHODS_FILTER);
    answerMethods(again);
    expect(await invoke('sub-session')).toEqual({ ok: true, status: 200 });
    await again.endAsync();
  });
});

describe('sessions and connection state written in batches', () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it('a restart restores what the last moments before a stop subscribed and unsubscribed', async () => {
    let disk = await startTestHub({ inMemory: false, dataDir: data.dir });
    const host = disk.options.host;
    try {
      for (const id of ['sub-disk-a', 'sub-disk-b']) await createDevice(disk, id);
      const a = await connectRaw(disk, 'sub-disk-a', { clean: false });
      await a.subscribeAsync([METHODS_FILTER, TWIN_RESPONSE_FILTER, DESIRED_FILTER]);
      await a.unsubscribeAsync(DESIRED_FILTER);
      const b = await connectRaw(disk, 'sub-disk-b', { clean: false });
      await b.subscribeAsync([METHODS_FILTER]);
      a.stream.destroy();
      b.stream.destroy();
      await waitUntil(() => disk.connections.count === 0, 5000, 'both to disconnect');
      await disk.stop();

      disk = await startTestHub({ inMemory: false, dataDir: data.dir, host });
      const resumedA = await connectRaw(disk, 'sub-disk-a', { clean: false });
      const resumedB = await connectRaw(disk, 'sub-disk-b', { clean: false });
      await attached(disk, 'sub-disk-a');
      await attached(disk, 'sub-disk-b');
      expect(disk.connections.isSubscribed('sub-disk-a', 'methods')).toBe(true);
      expect(disk.connections.isSubscribed('sub-disk-a', 'twinResponses')).toBe(true);
      expect(disk.connections.isSubscribed('sub-disk-a', 'desired')).toBe(false);
      expect(disk.connections.isSubscribed('sub-disk-b', 'methods')).toBe(true);
      expect(disk.connections.isSubscribed('sub-disk-b', 'twinResponses')).toBe(false);
      // Connected devices read as Connected, and a device that left reads as Disconnected after a restart.
      expect((await registryFor(disk).get('sub-disk-a')).responseBody.connectionState).toBe('Connected');
      await resumedA.endAsync();
      await resumedB.endAsync();
      await waitUntil(async () => String((await registryFor(disk).get('sub-disk-a')).responseBody.connectionState) === 'Disconnected', 5000, 'Disconnected');
    } finally {
      await disk.stop();
    }
  }, 40_000);

  it('the connection state and times of the last disconnect are saved by a graceful stop', async () => {
    let disk = await startTestHub({ inMemory: false, dataDir: data.dir });
    const host = disk.options.host;
    try {
      await createDevice(disk, 'sub-state');
      const client = await connectRaw(disk, 'sub-state', { clean: true });
      await client.endAsync();
      await waitUntil(async () => String((await registryFor(disk).get('sub-state')).responseBody.connectionState) === 'Disconnected', 5000, 'Disconnected');
      const before = (await registryFor(disk).get('sub-state')).responseBody;
      expect(before.connectionStateUpdatedTime).not.toBe('0001-01-01T00:00:00Z');
      await disk.stop();
      disk = await startTestHub({ inMemory: false, dataDir: data.dir, host });
      const after = (await registryFor(disk).get('sub-state')).responseBody;
      expect(after.connectionState).toBe('Disconnected');
      expect(after.connectionStateUpdatedTime).toBe(before.connectionStateUpdatedTime);
      expect(after.lastActivityTime).toBe(before.lastActivityTime);
    } finally {
      await disk.stop();
    }
  }, 40_000);
});
