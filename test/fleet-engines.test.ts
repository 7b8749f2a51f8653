import iothub from 'azure-iothub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { DEFAULT_TOKEN_TTL_SECONDS, type EngineName, type FleetConfig } from '../fleet/config.js';
import { deviceId, WHOLE } from '../fleet/device-range.js';
import { startFleet, type RunningFleet } from '../fleet/fleet.js';
import { deviceChance, deviceRandom } from '../fleet/scenario/random.js';
import { defaultScenario, type Scenario } from '../fleet/scenario/scenario.js';
import { startTestHub } from './support/hub-factory.js';
import { waitUntil } from './support/wait.js';

const { Client: ServiceClient, Registry } = iothub;

type ScenarioChange = { [K in keyof Scenario]?: Partial<Scenario[K]> };

// The same behaviour tests for both engines: what a back end sees must not depend on how devices connect.
describe.each(['light', 'sdk'] as EngineName[])('the %s engine against the emulator', (engine) => {
  let hub: Hub;
  let registry: ReturnType<typeof Registry.fromConnectionString>;
  let service: ReturnType<typeof ServiceClient.fromConnectionString>;
  const running: RunningFleet[] = [];

  beforeAll(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionString());
    service = ServiceClient.fromConnectionString(hub.connectionString());
  });
  afterAll(async () => {
    await Promise.all(running.map((f) => f.stop()));
    await service?.close();
    await hub?.stop();
  });

  async function fleet(name: string, devices: number, change: ScenarioChange = {}, extra: Partial<FleetConfig> = {}): Promise<RunningFleet> {
    const config: FleetConfig = {
      connectionString: hub.connectionString(),
      // Trusted already through NODE_EXTRA_CA_CERTS; passed anyway, as `--ca` and the demo do.
      ca: hub.ca,
      engine,
      devices,
      prefix: `${engine}-${name}-`,
      shard: WHOLE,
      workers: 0,
      tokenTtlSeconds: DEFAULT_TOKEN_TTL_SECONDS,
      durationMs: 0,
      scenario: {
        ...defaultScenario,
        ...change,
        connect: { ...defaultScenario.connect, ...change.connect },
        churn: { ...defaultScenario.churn, ...change.churn },
        methods: { ...defaultScenario.methods, ...change.methods },
        telemetry: { ...defaultScenario.telemetry, ...change.telemetry },
      } as Scenario,
      ...extra,
    };
    const started = await startFleet(config);
    running.push(started);
    await started.ramped;
    return started;
  }

  const invoke = async (id: string, methodName = 'lockDoor', connectTimeoutInSeconds = 0) =>
    (await service.invokeDeviceMethod(id, { methodName, payload: { by: 'test' }, responseTimeoutInSeconds: 5, connectTimeoutInSeconds })).result as {
      status: number;
      payload: Record<string, unknown>;
    };

  it('registers devices with bulk calls and connects them; a second run reuses them', async () => {
    const first = await fleet('basic', 3);
    const ids = [0, 1, 2].map((i) => deviceId(`${engine}-basic-`, i, 3));
    for (const id of ids) {
      const device = (await registry.get(id)).responseBody;
      expect(device.connectionState).toBe('Connected');
      expect(device.authentication?.symmetricKey?.primaryKey).toBeTruthy();
    }
    expect(first.stats().counters).toMatchObject({ devices: 3, connected: 3, everConnected: 3, connectFailures: 0 });
    const report = await first.stop();
    expect(report.connect.connectedAtStop).toBe(3);
    await waitUntil(
      async () => String((await registry.get(ids[0])).responseBody.connectionState) === 'Disconnected',
      10_000,
      'devices to show as disconnected',
    );

    // Same prefix again: the devices exist, are reused (same ids, keys still valid) and connect.
    const second = await fleet('basic', 3);
    expect(second.stats().counters).toMatchObject({ connected: 3, connectFailures: 0 });
    expect((await registry.getRegistryStatistics()).responseBody.totalDeviceCount).toBeGreaterThanOrEqual(3);
  });

  it('answers lockDoor with 200 and the locked state, and keeps properties.reported', async () => {
    const f = await fleet('lock', 2);
    const id = deviceId(`${engine}-lock-`, 1, 2);
    const result = await invoke(id);
    expect(result.status).toBe(200);
    expect(result.payload).toMatchObject({ doorState: 'locked', message: `Door ${id} is locked` });
    const reported = await waitUntil(
      async () => {
        const twin = (await registry.getTwin(id)).responseBody;
        const r = twin.properties.reported as Record<string, unknown>;
        return r.doorState === 'locked' && r.lastLockedAt === result.payload.lockedAt ? r : undefined;
      },
      10_000,
      'lastLockedAt in the twin',
    );
    expect(reported).toMatchObject({ deviceKind: 'lockDoor', firmware: { version: '1.0.0' } });
    expect((await invoke(id, 'unlockDoor')).payload).toMatchObject({ doorState: 'unlocked' });
    expect(f.stats().counters).toMatchObject({ methodCalls: 2, methodResponses: 2, methodErrorResponses: 0 });
    expect(f.stats().methodOverhead.totalCount).toBe(2);
  });

  it('reports a desired-property patch back', async () => {
    const f = await fleet('desired', 1);
    const id = deviceId(`${engine}-desired-`, 0, 1);
    await registry.updateTwin(id, { properties: { desired: { telemetryInterval: 30, doorState: 'locked', schedule: { night: true } } } }, '*');
    const reported = await waitUntil(
      async () => {
        const r = (await registry.getTwin(id)).responseBody.properties.reported as Record<string, unknown>;
        return r.telemetryInterval === 30 ? r : undefined;
      },
      10_000,
      'the desired patch in reported',
    );
    expect(reported).toMatchObject({ doorState: 'locked', schedule: { night: true } });
    expect(typeof reported.lastLockedAt).toBe('string');
    expect(f.stats().counters.desiredPatches).toBe(1);
  });

  it('injects method errors with the configured probability, the same way for the same seed', async () => {
    const statuses = async (name: string, seed: number): Promise<number[]> => {
      const f = await fleet(name, 1, { seed, methods: { errorProbability: 0.5, errorStatus: 503 } });
      const id = deviceId(`${engine}-${name}-`, 0, 1);
      const seen: number[] = [];
      for (let i = 0; i < 16; i++) seen.push((await invoke(id)).status);
      const report = await f.stop();
      expect(report.methods.errorResponses).toBe(seen.filter((s) => s === 503).length);
      expect(report.methods.responses).toBe(16);
      return seen;
    };
    const first = await statuses('errors-a', 11);
    expect(new Set(first)).toEqual(new Set([200, 503]));
    // What the seed decides, whichever engine carries the device: both engines give this sequence.
    const draw = deviceRandom(11, 0, 'methods');
    expect(first).toEqual(Array.from({ length: 16 }, () => (draw() < 0.5 ? 503 : 200)));
    // Index 0 of another prefix with the same seed draws the same numbers.
    expect(await statuses('errors-b', 11)).toEqual(first);
    expect(await statuses('errors-c', 12)).not.toEqual(first);
  });

  it('adds the configured method latency, outside the measured overhead', async () => {
    const f = await fleet('latency', 1, { methods: { latency: { kind: 'fixed', value: 150 } } });
    const started = performance.now();
    expect((await invoke(deviceId(`${engine}-latency-`, 0, 1))).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(f.stats().methodOverhead.maxValue / 1e6).toBeLessThan(50);
  });

  it('churns: devices drop and reconnect, and still answer', async () => {
    const f = await fleet('churn', 3, { churn: { fraction: 1, interval: { kind: 'fixed', value: 300 }, downtime: { kind: 'fixed', value: 150 } } });
    await waitUntil(() => f.stats().counters.reconnects >= 6, 10_000, 'two rounds of churn');
    const c = f.stats().counters;
    expect(c.drops).toBeGreaterThanOrEqual(6);
    expect(c.connectionsLost).toBe(0);
    // The hub waits for a device that is away for a moment (connectTimeoutInSeconds).
    expect((await invoke(deviceId(`${engine}-churn-`, 2, 3), 'lockDoor', 5)).status).toBe(200);
    const report = await f.stop();
    expect(report.churn.drops).toBeGreaterThanOrEqual(6);
    expect(report.churn.reconnects).toBeGreaterThanOrEqual(6);
  });

  it('keeps the never-connect fraction offline, the same devices for the same seed', async () => {
    const f = await fleet('never', 8, { seed: 5, neverConnect: 0.5 });
    const offline: string[] = [];
    for (let i = 0; i < 8; i++) {
      const id = deviceId(`${engine}-never-`, i, 8);
      if (String((await registry.get(id)).responseBody.connectionState) !== 'Connected') offline.push(id);
    }
    const c = f.stats().counters;
    expect(offline.length).toBe(c.neverConnect);
    expect(c.neverConnect).toBeGreaterThan(0);
    expect(c.neverConnect).toBeLessThan(8);
    expect(c.connected).toBe(8 - c.neverConnect);
    // The seed picks the same devices whichever engine carries them.
    const chosen = Array.from({ length: 8 }, (_, i) => i).filter((i) => deviceChance(5, i, 'never-connect') < 0.5);
    expect(offline).toEqual(chosen.map((i) => deviceId(`${engine}-never-`, i, 8)));
  });

  it('sends telemetry rendered from the template', async () => {
    const received: { deviceId: string; body: string; contentType?: string | null }[] = [];
    const listener = (e: { deviceId: string; payload: Buffer; properties: Record<string, string | null> }) =>
      received.push({ deviceId: e.deviceId, body: e.payload.toString('utf8'), contentType: e.properties['$.ct'] });
    hub.events.on('telemetry', listener);
    try {
      await fleet('telemetry', 2, { telemetry: { interval: 100, template: '{"id":"{{deviceId}}","seq":{{seq}},"door":"{{doorState}}"}' } });
      await waitUntil(() => new Set(received.map((r) => r.deviceId)).size === 2 && received.length >= 6, 10_000, 'telemetry from both devices');
    } finally {
      hub.events.off('telemetry', listener);
    }
    const message = JSON.parse(received[0].body);
    expect(message).toMatchObject({ id: received[0].deviceId, door: 'unlocked' });
    expect(message.seq).toBeGreaterThanOrEqual(1);
  });

  it('renews its SAS token before it expires by reconnecting', async () => {
    const id = deviceId(`${engine}-renewal-`, 0, 1);
    let connects = 0;
    const onConnect = (e: { deviceId: string }): void => {
      if (e.deviceId === id) connects++;
    };
    hub.events.on('deviceConnected', onConnect);
    try {
      const f = await fleet('renewal', 1, {}, { tokenTtlSeconds: 3 });
      // A 3 s token is renewed 1 s before it expires, so the second renewal comes after the first
      // token's expiry: by then the hub would have closed a device that kept it. Waiting for the
      // connection that renewal opens (the third) also keeps the call off a connection being replaced.
      await waitUntil(
        () => f.stats().counters.tokenRenewals >= 2 && connects >= 3 && hub.connections.isSubscribed(id, 'methods'),
        10_000,
        'the connection of the second renewal',
      );
      expect((await invoke(id, 'lockDoor', 5)).status).toBe(200);
      expect(f.stats().counters.connectionsLost).toBe(0);
    } finally {
      hub.events.off('deviceConnected', onConnect);
    }
  });
});
