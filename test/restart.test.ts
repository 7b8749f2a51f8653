import { afterAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub, tempDataDir } from './support/hub-factory.js';
import { createDevice, openDevice, registryFor, serviceClientFor } from './support/sdk.js';
import { waitUntil } from './support/wait.js';

const data = tempDataDir();
afterAll(() => data.remove());

describe('an emulator restart', () => {
  it('keeps registry, twins and MQTT sessions: the same SDK client still gets desired patches and methods', async () => {
    let hub: Hub = await startTestHub({ inMemory: false, dataDir: data.dir });
    const host = hub.options.host;
    const cs = await createDevice(hub, 'r-door');
    await registryFor(hub).updateTwin('r-door', { tags: { building: '43' } }, '*');
    const client = await openDevice(cs);
    const desired: unknown[] = [];
    let calls = 0;
    try {
      client.onDeviceMethod('lockDoor', (_req, res) => {
        calls++;
        res.send(200, { locked: true });
      });
      const twin = await client.getTwin();
      twin.on('properties.desired', (delta: unknown) => desired.push(delta));
      await waitUntil(() => hub.connections.isSubscribed('r-door', 'desired') && hub.connections.isSubscribed('r-door', 'methods'), 3000, 'subscriptions');

      await hub.stop();
      hub = await startTestHub({ inMemory: false, dataDir: data.dir, host });
      // The SDK reconnects by itself (CleanSession=0) and never re-subscribes: the hub restores the session.
      await waitUntil(() => hub.connections.current('r-door'), 15_000, 'the SDK to reconnect');
      expect(hub.connections.isSubscribed('r-door', 'desired')).toBe(true);

      const registry = registryFor(hub);
      expect((await registry.getTwin('r-door')).responseBody.tags).toEqual({ building: '43' });
      await registry.updateTwin('r-door', { properties: { desired: { afterRestart: true } } }, '*');
      await waitUntil(() => desired.some((d) => (d as { afterRestart?: boolean }).afterRestart), 5000, 'the desired patch after restart');
      const result = await serviceClientFor(hub).invokeDeviceMethod('r-door', { methodName: 'lockDoor', responseTimeoutInSeconds: 5 });
      expect(result.result).toEqual({ status: 200, payload: { locked: true } });
      expect(calls).toBe(1);
    } finally {
      await client.close().catch(() => undefined);
      await hub.stop();
    }
  }, 40_000);
});
