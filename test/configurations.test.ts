import device from 'azure-iot-device';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { waitUntil } from './support/wait.js';
import { startTestHub } from './support/hub-factory.js';
import { openDevice, registryFor, rest, transports, type TwinJson } from './support/sdk.js';

let hub: Hub;
let registry: ReturnType<typeof registryFor>;

beforeAll(async () => {
  hub = await startTestHub();
  registry = registryFor(hub);
});
afterAll(() => hub?.stop());

type Json = Record<string, any>;
const desiredOf = async (deviceId: string): Promise<Json> => ((await registry.getTwin(deviceId)).responseBody as TwinJson).properties.desired;

describe('configurations (automatic device management)', () => {
  beforeAll(async () => {
    for (const [id, env] of [
      ['cfg-p1', 'prod'],
      ['cfg-p2', 'prod'],
      ['cfg-p3', 'prod'],
      ['cfg-d1', 'dev'],
      ['cfg-none', undefined],
    ] as const) {
      await registry.create({ deviceId: id });
      if (env) await registry.updateTwin(id, { tags: { env, fleet: 'cfgtest' } }, '*');
    }
  });

  it("applies a configuration targeting tags.env = 'prod' to exactly those twins, before answering, and counts them", async () => {
    const created = (
      await registry.addConfiguration({
        id: 'prod-settings',
        content: { deviceContent: { 'properties.desired.telemetry': { interval: 30, unit: 's' } } },
        targetCondition: "tags.env = 'prod' AND tags.fleet = 'cfgtest'",
        priority: 1,
        labels: { team: 'ops' },
        metrics: { queries: { reportedOk: 'SELECT deviceId FROM devices WHERE properties.reported.telemetry.interval = 30' } },
      } as never)
    ).responseBody as Json;
    expect(created).toMatchObject({ id: 'prod-settings', schemaVersion: '1.0', priority: 1, labels: { team: 'ops' }, etag: 'MQ==' });
    expect(created.systemMetrics.results).toEqual({ targetedCount: 3, appliedCount: 3 });
    for (const id of ['cfg-p1', 'cfg-p2', 'cfg-p3']) expect((await desiredOf(id)).telemetry).toEqual({ interval: 30, unit: 's' });
    for (const id of ['cfg-d1', 'cfg-none']) expect(await desiredOf(id)).not.toHaveProperty('telemetry');
    const read = (await registry.getConfiguration('prod-settings')).responseBody as Json;
    expect(read.systemMetrics.results).toEqual({ targetedCount: 3, appliedCount: 3 });
    expect(read.metrics.results).toEqual({ reportedOk: 0 });
    expect(((await registry.getConfigurations()).responseBody as Json[]).map((c) => c.id)).toContain('prod-settings');
  });

  it('lets a higher-priority configuration win the paths they share; the lower one is targeted, not applied', async () => {
    await registry.addConfiguration({
      id: 'prod-urgent',
      content: { deviceContent: { 'properties.desired.telemetry.interval': 5 } },
      targetCondition: "tags.env = 'prod' AND deviceId = 'cfg-p1'",
      priority: 10,
    } as never);
    expect((await desiredOf('cfg-p1')).telemetry).toEqual({ interval: 5, unit: 's' });
    expect((await desiredOf('cfg-p2')).telemetry).toEqual({ interval: 30, unit: 's' });
    const low = (await registry.getConfiguration('prod-settings')).responseBody as Json;
    expect(low.systemMetrics.results).toEqual({ targetedCount: 3, appliedCount: 2 });
    const high = (await registry.getConfiguration('prod-urgent')).responseBody as Json;
    expect(high.systemMetrics.results).toEqual({ targetedCount: 1, appliedCount: 1 });
    await registry.removeConfiguration('prod-urgent');
    // Removing it leaves what it set; the remaining one re-applies its own value.
    expect((await desiredOf('cfg-p1')).telemetry).toEqual({ interval: 30, unit: 's' });
  });

  it('re-evaluates when tags change: a twin that leaves the target stops counting, one that joins gets the content', async () => {
    await registry.updateTwin('cfg-p3', { tags: { env: 'dev' } }, '*');
    await registry.updateTwin('cfg-d1', { tags: { env: 'prod' } }, '*');
    await waitUntil(async () => (await desiredOf('cfg-d1')).telemetry?.interval === 30, 5000, 'the joining twin configured');
    const read = (await registry.getConfiguration('prod-settings')).responseBody as Json;
    expect(read.systemMetrics.results).toEqual({ targetedCount: 3, appliedCount: 3 });
    expect(
      (await registry.createQuery("SELECT * FROM devices WHERE tags.fleet = 'cfgtest' AND tags.env = 'prod'").nextAsTwin()).result
        .map((t) => t.deviceId)
        .sort(),
    ).toEqual(['cfg-d1', 'cfg-p1', 'cfg-p2']);
  });

  it('delivers the desired change to a connected device as a notification', async () => {
    await registry.create({ deviceId: 'cfg-live' });
    const client = await openDevice(hub.deviceConnectionString('cfg-live'));
    try {
      const twin = await client.getTwin();
      const patches: Json[] = [];
      twin.on('properties.desired', (patch: Json) => patches.push(patch));
      await waitUntil(() => patches.length >= 1, 5000, 'initial desired callback');
      await registry.updateTwin('cfg-live', { tags: { env: 'prod', fleet: 'cfgtest' } }, '*');
      await waitUntil(() => patches.some((p) => p.telemetry?.interval === 30), 5000, 'the configuration notification');
    } finally {
      await client.close();
    }
  });

  it('updates labels and priority with the etag, refuses a content change, a stale etag, a duplicate id and a bad condition', async () => {
    const current = (await registry.getConfiguration('prod-settings')).responseBody as Json;
    const updated = (await registry.updateConfiguration({ ...current, labels: { team: 'sre' }, priority: 2 } as never)).responseBody as Json;
    expect(updated).toMatchObject({ labels: { team: 'sre' }, priority: 2, etag: 'Mg==' });
    const stale = (await registry.updateConfiguration({ ...current, priority: 3 } as never).catch((e: Json) => e)) as Json;
    expect(stale.response.statusCode).toBe(412);
    const content = await rest(
      hub,
      'PUT',
      '/configurations/prod-settings?api-version=2021-04-12',
      { ...updated, content: { deviceContent: { 'properties.desired.x': 1 } } },
      { 'if-match': '*' },
    );
    expect(content.status).toBe(400);
    const dup = await rest(hub, 'PUT', '/configurations/prod-settings?api-version=2021-04-12', {
      id: 'prod-settings',
      content: { deviceContent: { 'properties.desired.x': 1 } },
      targetCondition: '*',
    });
    expect(dup.status).toBe(409);
    const bad = await rest(hub, 'PUT', '/configurations/bad-cond?api-version=2021-04-12', {
      id: 'bad-cond',
      content: { deviceContent: { 'properties.desired.x': 1 } },
      targetCondition: 'tags.env = = 1',
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('iothub-errorcode')).toBe('ArgumentInvalid');
    const missing = await rest(hub, 'GET', '/configurations/nope?api-version=2021-04-12');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('iothub-errorcode')).toBe('ConfigurationNotFound');
  });

  it('applies moduleContent to the module twins its condition selects', async () => {
    await registry.create({ deviceId: 'cfg-mod' });
    await registry.addModule({ deviceId: 'cfg-mod', moduleId: 'sensor' } as never);
    await registry.addModule({ deviceId: 'cfg-mod', moduleId: 'other' } as never);
    await registry.addConfiguration({
      id: 'sensor-config',
      content: { moduleContent: { 'properties.desired.rate': 9 } },
      targetCondition: "FROM devices.modules WHERE moduleId = 'sensor' AND deviceId = 'cfg-mod'",
    } as never);
    expect(((await registry.getModuleTwin('cfg-mod', 'sensor')).responseBody as TwinJson).properties.desired.rate).toBe(9);
    expect(((await registry.getModuleTwin('cfg-mod', 'other')).responseBody as TwinJson).properties.desired).not.toHaveProperty('rate');
    expect(await desiredOf('cfg-mod')).not.toHaveProperty('rate');
  });

  it('delivers a moduleContent configuration to a connected ModuleClient as a desired notification', async () => {
    await registry.create({ deviceId: 'cfg-mod-live' });
    await registry.addModule({ deviceId: 'cfg-mod-live', moduleId: 'sensor' } as never);
    const client = device.ModuleClient.fromConnectionString(hub.moduleConnectionString('cfg-mod-live', 'sensor'), transports.Mqtt);
    await client.open();
    try {
      const twin = await client.getTwin();
      const patches: Json[] = [];
      twin.on('properties.desired', (patch: Json) => patches.push(patch));
      await waitUntil(() => patches.length >= 1, 5000, 'initial desired callback');
      const created = (
        await registry.addConfiguration({
          id: 'live-module-config',
          content: { moduleContent: { 'properties.desired.sampling': { everySeconds: 7 } } },
          targetCondition: "FROM devices.modules WHERE deviceId = 'cfg-mod-live' AND moduleId = 'sensor'",
        } as never)
      ).responseBody as Json;
      expect(created.systemMetrics.results).toEqual({ targetedCount: 1, appliedCount: 1 });
      await waitUntil(() => patches.some((p) => p.sampling?.everySeconds === 7), 5000, 'the configuration notification');
      expect(await desiredOf('cfg-mod-live')).not.toHaveProperty('sampling');
    } finally {
      await client.close();
      await registry.removeConfiguration('live-module-config');
    }
  });

  it("applies an edge deployment's modulesContent to $edgeAgent and $edgeHub with applyConfigurationContentOnDevice", async () => {
    await registry.create({ deviceId: 'cfg-edge', capabilities: { iotEdge: true } } as never);
    await registry.applyConfigurationContentOnDevice('cfg-edge', {
      modulesContent: {
        $edgeAgent: { 'properties.desired': { schemaVersion: '1.1', runtime: { type: 'docker' }, modules: { sim: { type: 'docker' } } } },
        $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: { up: 'FROM /messages/* INTO $upstream' } } },
      },
    });
    const agent = ((await registry.getModuleTwin('cfg-edge', '$edgeAgent')).responseBody as TwinJson).properties.desired;
    expect(agent).toMatchObject({ schemaVersion: '1.1', modules: { sim: { type: 'docker' } } });
    const edgeHub = ((await registry.getModuleTwin('cfg-edge', '$edgeHub')).responseBody as TwinJson).properties.desired;
    expect(edgeHub.routes).toEqual({ up: 'FROM /messages/* INTO $upstream' });
    const notEdge = await rest(hub, 'POST', '/devices/cfg-none/applyConfigurationContent?api-version=2021-04-12', {
      modulesContent: { $edgeAgent: { 'properties.desired': {} } },
    });
    expect(notEdge.status).toBe(404);
    expect(notEdge.headers.get('iothub-errorcode')).toBe('ModuleNotFound');
  });

  it('re-evaluates everything when the emulator clock is moved', async () => {
    await registry.create({ deviceId: 'cfg-clock' });
    await registry.addConfiguration({
      id: 'clock-config',
      content: { deviceContent: { 'properties.desired.clocked': true } },
      targetCondition: "deviceId = 'cfg-clock'",
    } as never);
    // A user overwrites the configured value; the hub's next evaluation (here: the clock moving) puts it back.
    await registry.updateTwin('cfg-clock', { properties: { desired: { clocked: false } } }, '*');
    expect((await desiredOf('cfg-clock')).clocked).toBe(false);
    const moved = await rest(hub, 'POST', '/$emulator/clock/advance', { seconds: 60 });
    expect(moved.status).toBeLessThan(300);
    expect((await desiredOf('cfg-clock')).clocked).toBe(true);
  });

  it("counts metric queries over each twin's configurations.{id}.status in the PUT's answer, a GET and the list", async () => {
    for (const id of ['cfg-m1', 'cfg-m2', 'cfg-m3', 'cfg-m4']) {
      await registry.create({ deviceId: id });
      await registry.updateTwin(id, { tags: { metrics: id === 'cfg-m4' ? 'no' : 'yes' } }, '*');
    }
    const statusQueries = (id: string): Record<string, string> => ({
      applied: `SELECT deviceId FROM devices WHERE configurations.[[${id}]].status = 'Applied'`,
      targeted: `SELECT deviceId FROM devices WHERE configurations.[[${id}]].status = 'Targeted'`,
      counted: `SELECT COUNT() AS n FROM devices WHERE IS_DEFINED(configurations.[[${id}]]) AND tags.metrics = 'yes'`,
      unconfigured: `SELECT deviceId FROM devices WHERE tags.metrics = 'no' AND NOT IS_DEFINED(configurations.[[${id}]])`,
      plain: "SELECT deviceId FROM devices WHERE tags.metrics = 'yes'",
    });
    const low = (
      await registry.addConfiguration({
        id: 'metric-low',
        content: { deviceContent: { 'properties.desired.metered': 1 } },
        targetCondition: "tags.metrics = 'yes'",
        priority: 1,
        metrics: { queries: statusQueries('metric-low') },
      } as never)
    ).responseBody as Json;
    expect(low.systemMetrics.results).toEqual({ targetedCount: 3, appliedCount: 3 });
    expect(low.metrics.results).toEqual({ applied: 3, targeted: 0, counted: 3, unconfigured: 1, plain: 3 });

    const high = (
      await registry.addConfiguration({
        id: 'metric-high',
        content: { deviceContent: { 'properties.desired.metered': 2 } },
        targetCondition: "tags.metrics = 'yes' AND deviceId = 'cfg-m1'",
        priority: 5,
        metrics: { queries: { lowTargeted: "SELECT deviceId FROM devices WHERE configurations.[[metric-low]].status = 'Targeted'" } },
      } as never)
    ).responseBody as Json;
    expect(high.systemMetrics.results).toEqual({ targetedCount: 1, appliedCount: 1 });
    expect(high.metrics.results).toEqual({ lowTargeted: 1 });
    expect((await desiredOf('cfg-m1')).metered).toBe(2);
    expect((await desiredOf('cfg-m2')).metered).toBe(1);

    const expectedLow = { applied: 2, targeted: 1, counted: 3, unconfigured: 1, plain: 3 };
    const read = (await registry.getConfiguration('metric-low')).responseBody as Json;
    expect(read.systemMetrics.results).toEqual({ targetedCount: 3, appliedCount: 2 });
    expect(read.metrics.results).toEqual(expectedLow);
    const listed = ((await registry.getConfigurations()).responseBody as Json[]).filter((c) => c.id.startsWith('metric-'));
    expect(Object.fromEntries(listed.map((c) => [c.id, [c.systemMetrics.results, c.metrics.results]]))).toEqual({
      'metric-low': [{ targetedCount: 3, appliedCount: 2 }, expectedLow],
      'metric-high': [{ targetedCount: 1, appliedCount: 1 }, { lowTargeted: 1 }],
    });
    // The statuses exist for metric queries only; a query of the registry does not see them.
    const query = await registry.createQuery("SELECT * FROM devices WHERE configurations.[[metric-low]].status = 'Applied'").nextAsTwin();
    expect(query.result).toEqual([]);
    await registry.removeConfiguration('metric-high');
    await registry.removeConfiguration('metric-low');
  });

  it('counts a condition that reads what the configuration sets as it stands once applied', async () => {
    for (const id of ['cfg-once1', 'cfg-once2']) {
      await registry.create({ deviceId: id });
      await registry.updateTwin(id, { tags: { once: 'yes' } }, '*');
    }
    const created = (
      await registry.addConfiguration({
        id: 'apply-once',
        content: { deviceContent: { 'properties.desired.provisioned': true } },
        targetCondition: "tags.once = 'yes' AND NOT IS_DEFINED(properties.desired.provisioned)",
        metrics: { queries: { seen: "SELECT deviceId FROM devices WHERE configurations.[[apply-once]].status = 'Applied'" } },
      } as never)
    ).responseBody as Json;
    for (const id of ['cfg-once1', 'cfg-once2']) expect((await desiredOf(id)).provisioned).toBe(true);
    // Written, then no longer matching: the answer counts the twins after the write, as a GET does.
    expect(created.systemMetrics.results).toEqual({ targetedCount: 0, appliedCount: 0 });
    expect(created.metrics.results).toEqual({ seen: 0 });
    const read = (await registry.getConfiguration('apply-once')).responseBody as Json;
    expect(read.systemMetrics.results).toEqual({ targetedCount: 0, appliedCount: 0 });
    await registry.removeConfiguration('apply-once');
  });
});
