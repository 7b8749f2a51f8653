import iothub from 'azure-iothub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { DEFAULT_TOKEN_TTL_SECONDS, type EngineName, type FleetConfig } from '../fleet/config.js';
import { deviceId, WHOLE } from '../fleet/device-range.js';
import { startFleet, type RunningFleet } from '../fleet/fleet.js';
import { defaultScenario } from '../fleet/scenario/scenario.js';
import { startTestHub } from './support/hub-factory.js';

const { Client: ServiceClient, Registry } = iothub;

// `--modules-per-device`: each module identity is a lockDoor of its own, on its own connection.
describe.each(['light', 'sdk'] as EngineName[])('a fleet with modules on the %s engine', (engine) => {
  let hub: Hub;
  let registry: ReturnType<typeof Registry.fromConnectionString>;
  let service: ReturnType<typeof ServiceClient.fromConnectionString>;
  let fleet: RunningFleet | undefined;

  beforeAll(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionString());
    service = ServiceClient.fromConnectionString(hub.connectionString());
  });
  afterAll(async () => {
    await fleet?.stop();
    await service?.close();
    await hub?.stop();
  });

  const config = (): FleetConfig => ({
    connectionString: hub.connectionString(),
    ca: hub.ca,
    engine,
    devices: 2,
    modulesPerDevice: 2,
    prefix: `${engine}-mod-`,
    shard: WHOLE,
    workers: 0,
    tokenTtlSeconds: DEFAULT_TOKEN_TTL_SECONDS,
    durationMs: 0,
    scenario: defaultScenario,
  });

  it('registers and connects each module, which answers lockDoor on its own and reports to its module twin', async () => {
    fleet = await startFleet(config());
    await fleet.ramped;
    expect(fleet.stats().counters).toMatchObject({ devices: 6, connected: 6, connectFailures: 0 });
    const id = deviceId(`${engine}-mod-`, 1, 2);
    expect(((await registry.getModulesOnDevice(id)).responseBody as { moduleId: string }[]).map((m) => m.moduleId)).toEqual(['module-1', 'module-2']);
    const result = (await service.invokeDeviceMethod(id, 'module-2', { methodName: 'lockDoor', payload: { by: 'test' }, responseTimeoutInSeconds: 5 }))
      .result as { status: number; payload: Record<string, unknown> };
    expect(result).toMatchObject({ status: 200, payload: { doorState: 'locked' } });
    const moduleTwin = async (moduleId: string) => (await registry.getModuleTwin(id, moduleId)).responseBody.properties.reported as Record<string, unknown>;
    await expect.poll(async () => (await moduleTwin('module-2')).doorState, { timeout: 10_000 }).toBe('locked');
    // Its device and its sibling were not the ones called.
    expect((await moduleTwin('module-1')).doorState).not.toBe('locked');
    expect(((await registry.getTwin(id)).responseBody.properties.reported as Record<string, unknown>).doorState).not.toBe('locked');
    expect(fleet.stats().counters).toMatchObject({ methodCalls: 1, methodResponses: 1 });
    await fleet.stop();
    fleet = undefined;
    // A second run reuses the modules (updated to the same derived keys) and connects again.
    fleet = await startFleet(config());
    await fleet.ramped;
    expect(fleet.stats().counters).toMatchObject({ connected: 6, connectFailures: 0 });
  });
});
