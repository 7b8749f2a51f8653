import iothub from 'azure-iothub';
import { afterAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { DEFAULT_TOKEN_TTL_SECONDS, type EngineName } from '../fleet/config.js';
import { deviceId, WHOLE } from '../fleet/device-range.js';
import { startFleet, type RunningFleet } from '../fleet/fleet.js';
import { defaultScenario } from '../fleet/scenario/scenario.js';
import { startTestHub, tempDataDir } from './support/hub-factory.js';
import { waitUntil } from './support/wait.js';

// A developer restarts the emulator while a fleet runs: the devices find it again on their own.
// The restarted hub has new TLS ticket keys, so the light engine's saved session no longer
// resumes and its next handshake must be a full one.
describe.each(['light', 'sdk'] as EngineName[])('the %s engine across a hub restart', (engine) => {
  const data = tempDataDir();
  let hub: Hub | undefined;
  let fleet: RunningFleet | undefined;

  afterAll(async () => {
    await fleet?.stop();
    await hub?.stop();
    data.remove();
  });

  it('reconnects every device and answers lockDoor again', async () => {
    hub = await startTestHub({ dataDir: data.dir, inMemory: false });
    const host = hub.hostName;
    const prefix = `restart-${engine}-`;
    fleet = await startFleet({
      connectionString: hub.connectionString(),
      ca: hub.ca,
      engine,
      devices: 2,
      prefix,
      shard: WHOLE,
      workers: 0,
      tokenTtlSeconds: DEFAULT_TOKEN_TTL_SECONDS,
      durationMs: 0,
      scenario: defaultScenario,
    });
    await fleet.ramped;
    expect(fleet.stats().counters.connected).toBe(2);

    await hub.stop();
    // The light engine notices at once; the SDK retries inside the client and says nothing, so for
    // it there is no event to wait on: the hub simply stays down for a second (the outage being
    // tested), long enough for the SDK's first reconnection attempts to fail.
    if (engine === 'light') await waitUntil(() => fleet!.stats().counters.connected === 0, 10_000, 'the devices to notice the hub is gone');
    else await new Promise((r) => setTimeout(r, 1_000));
    hub = await startTestHub({ dataDir: data.dir, inMemory: false, host });

    const service = iothub.Client.fromConnectionString(hub.connectionString());
    try {
      for (const index of [0, 1]) {
        const id = deviceId(prefix, index, 2);
        const status = await waitUntil(
          async () => {
            const call = service.invokeDeviceMethod(id, { methodName: 'lockDoor', payload: {}, responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 2 });
            const outcome = await call.then(
              (r) => (r.result as { status: number }).status,
              () => undefined,
            );
            return outcome;
          },
          45_000,
          `${id} to answer lockDoor after the restart`,
        );
        expect(status).toBe(200);
      }
      if (engine === 'light') expect(fleet.stats().counters.reconnects).toBeGreaterThanOrEqual(2);
    } finally {
      await service.close();
    }
  }, 90_000);
});
