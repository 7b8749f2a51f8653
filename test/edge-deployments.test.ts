import device from 'azure-iot-device';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { registryFor, rest, transports, type TwinJson } from './support/sdk.js';
import { waitUntil } from './support/wait.js';

const { ModuleClient } = device;

let hub: Hub;
let registry: ReturnType<typeof registryFor>;

beforeAll(async () => {
  hub = await startTestHub();
  registry = registryFor(hub);
});
afterAll(() => hub?.stop());

type Json = Record<string, any>;
const desiredOf = async (deviceId: string, moduleId: string): Promise<Json> => {
  const { $metadata: _m, $version: _v, ...desired } = ((await registry.getModuleTwin(deviceId, moduleId)).responseBody as TwinJson).properties.desired;
  return desired;
};
const metricsOf = async (id: string): Promise<Json> => ((await registry.getConfiguration(id)).responseBody as Json).systemMetrics;

const agentV1 = {
  schemaVersion: '1.1',
  runtime: { type: 'docker', settings: { minDockerVersion: 'v1.25' } },
  systemModules: { edgeAgent: { type: 'docker', settings: { image: 'mcr.microsoft.com/azureiotedge-agent:1.5' } } },
  modules: { sensor: { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: 'sensor:1.0' } } },
};
const hubV1 = { schemaVersion: '1.1', routes: { upstream: 'FROM /messages/* INTO $upstream' }, storeAndForwardConfiguration: { timeToLiveSecs: 7200 } };
const baseV1 = {
  $edgeAgent: { 'properties.desired': agentV1 },
  $edgeHub: { 'properties.desired': hubV1 },
  sensor: { 'properties.desired': { interval: 5 } },
};

describe('IoT Edge deployments at scale (configurations with modulesContent)', () => {
  beforeAll(async () => {
    for (const [deviceId, env, iotEdge] of [
      ['edge-p1', 'prod', true],
      ['edge-p2', 'prod', true],
      ['edge-d1', 'dev', true],
      ['leaf-p1', 'prod', false],
    ] as const) {
      await registry.create({ deviceId, capabilities: { iotEdge } } as never);
      await registry.updateTwin(deviceId, { tags: { env, fleet: 'edgetest' } }, '*');
    }
    // edge-p1's sensor module exists before the deployment; edge-p2's is created after it.
    await registry.addModule({ deviceId: 'edge-p1', moduleId: 'sensor' } as never);
  });

  it("applies a base deployment targeting tags.env = 'prod' to exactly the prod IoT Edge devices, and counts them", async () => {
    const created = (
      await registry.addConfiguration({
        id: 'base-prod',
        content: { modulesContent: baseV1 },
        targetCondition: "tags.env = 'prod' AND tags.fleet = 'edgetest'",
        priority: 10,
        labels: { kind: 'base' },
      } as never)
    ).responseBody as Json;
    expect(created).toMatchObject({ id: 'base-prod', priority: 10, content: { modulesContent: baseV1 } });
    expect(created.systemMetrics.results).toEqual({ targetedCount: 2, appliedCount: 2, reportedSuccessfulCount: 0, reportedFailedCount: 0 });
    expect(created.systemMetrics.queries).toMatchObject({
      targetedCount: "select deviceId from devices where capabilities.iotEdge = true and tags.env = 'prod' AND tags.fleet = 'edgetest'",
      appliedCount: "select deviceId from devices.modules where moduleId = '$edgeAgent' and configurations.[[base-prod]].status = 'Applied'",
    });
    for (const id of ['edge-p1', 'edge-p2']) {
      expect(await desiredOf(id, '$edgeAgent')).toEqual(agentV1);
      expect(await desiredOf(id, '$edgeHub')).toEqual(hubV1);
    }
    expect(await desiredOf('edge-p1', 'sensor')).toEqual({ interval: 5 });
    // Not targeted: the dev edge device; not an edge device: the prod leaf (its twin untouched, no modules).
    expect(await desiredOf('edge-d1', '$edgeAgent')).toEqual({});
    expect(((await registry.getModulesOnDevice('leaf-p1')).responseBody as Json[]).length).toBe(0);
    const leaf = ((await registry.getTwin('leaf-p1')).responseBody as TwinJson).properties.desired;
    expect(leaf.$version).toBe(1);
    const listed = ((await registry.getConfigurations()).responseBody as Json[]).find((c) => c.id === 'base-prod');
    expect(listed?.systemMetrics.results).toEqual(created.systemMetrics.results);
  });

  it('writes a custom module twin as soon as its identity is created (as the edge agent creates it)', async () => {
    await registry.addModule({ deviceId: 'edge-p2', moduleId: 'sensor' } as never);
    await waitUntil(async () => (await desiredOf('edge-p2', 'sensor')).interval === 5, 5000, "edge-p2's sensor twin configured");
  });

  it('lets the highest-priority base deployment win per device, replacing the whole runtime desired properties', async () => {
    const agentV2 = { ...agentV1, modules: { sensor: { ...agentV1.modules.sensor, settings: { image: 'sensor:2.0' } } } };
    await registry.addConfiguration({
      id: 'base-prod-v2',
      content: { modulesContent: { $edgeAgent: { 'properties.desired': agentV2 }, $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: {} } } } },
      targetCondition: "tags.env = 'prod' AND deviceId = 'edge-p1'",
      priority: 20,
    } as never);
    expect(await desiredOf('edge-p1', '$edgeAgent')).toEqual(agentV2);
    // Not merged with the lower one: its route and store-and-forward settings are gone.
    expect(await desiredOf('edge-p1', '$edgeHub')).toEqual({ schemaVersion: '1.1', routes: {} });
    expect(await desiredOf('edge-p2', '$edgeAgent')).toEqual(agentV1);
    expect((await metricsOf('base-prod')).results).toMatchObject({ targetedCount: 2, appliedCount: 1 });
    expect((await metricsOf('base-prod-v2')).results).toMatchObject({ targetedCount: 1, appliedCount: 1 });
  });

  it('merges layered deployments above the base by priority; one below the base priority is not applied', async () => {
    const extra = { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: 'extra:1.0' } };
    await registry.addConfiguration({
      id: 'layer-extra',
      content: {
        modulesContent: {
          $edgeAgent: { 'properties.desired.modules.extra': extra },
          $edgeHub: { 'properties.desired.routes.extraUp': 'FROM /messages/modules/extra/* INTO $upstream' },
          extra: { 'properties.desired': { mode: 'fast' } },
        },
      },
      targetCondition: "tags.fleet = 'edgetest'",
      priority: 30,
    } as never);
    await registry.addConfiguration({
      id: 'layer-extra-slow',
      content: { modulesContent: { $edgeAgent: { 'properties.desired.modules.extra.settings.image': 'extra:0.9' } } },
      targetCondition: "tags.fleet = 'edgetest'",
      priority: 25,
    } as never);
    await registry.addConfiguration({
      id: 'layer-too-low',
      content: { modulesContent: { $edgeAgent: { 'properties.desired.modules.low': extra } } },
      targetCondition: "tags.fleet = 'edgetest'",
      priority: 5,
    } as never);
    const p1 = await desiredOf('edge-p1', '$edgeAgent');
    // The higher layer (30) overwrites the path the lower layer (25) set inside its module.
    expect(p1.modules).toEqual({ sensor: { ...agentV1.modules.sensor, settings: { image: 'sensor:2.0' } }, extra });
    expect((await desiredOf('edge-p1', '$edgeHub')).routes).toEqual({ extraUp: 'FROM /messages/modules/extra/* INTO $upstream' });
    expect((await desiredOf('edge-p2', '$edgeHub')).routes).toEqual({ ...hubV1.routes, extraUp: 'FROM /messages/modules/extra/* INTO $upstream' });
    // edge-d1 has no base deployment: a layer alone applies nothing.
    expect(await desiredOf('edge-d1', '$edgeAgent')).toEqual({});
    expect((await metricsOf('layer-extra')).results).toMatchObject({ targetedCount: 3, appliedCount: 2 });
    expect((await metricsOf('layer-too-low')).results).toMatchObject({ targetedCount: 3, appliedCount: 0 });
    expect(p1.modules).not.toHaveProperty('low');
  });

  it('notifies a connected $edgeAgent ModuleClient of the desired patch, and counts its reported status', async () => {
    const agent = ModuleClient.fromConnectionString(hub.moduleConnectionString('edge-p2', '$edgeAgent'), transports.Mqtt);
    await agent.open();
    try {
      const twin = await agent.getTwin();
      const patches: Json[] = [];
      twin.on('properties.desired', (patch: Json) => patches.push(patch));
      await waitUntil(() => patches.length > 0, 5000, 'the initial desired properties');
      await registry.addConfiguration({
        id: 'layer-metrics',
        content: { modulesContent: { $edgeAgent: { 'properties.desired.modules.metrics': { type: 'docker', settings: { image: 'metrics:1.0' } } } } },
        targetCondition: "deviceId = 'edge-p2'",
        priority: 40,
      } as never);
      const patch = await waitUntil(() => patches.find((p) => p.modules?.metrics), 5000, 'the desired patch with the metrics module');
      expect(patch.modules.metrics.settings.image).toBe('metrics:1.0');
      // The edge agent reports what it applied; the hub's reportedSuccessfulCount reads that.
      await new Promise<void>((resolve, reject) =>
        twin.properties.reported.update({ lastDesiredVersion: patch.$version, lastDesiredStatus: { code: 200 } }, (err?: Error) =>
          err ? reject(err) : resolve(),
        ),
      );
      expect((await metricsOf('layer-metrics')).results).toEqual({ targetedCount: 1, appliedCount: 1, reportedSuccessfulCount: 1, reportedFailedCount: 0 });
      expect((await metricsOf('base-prod')).results).toMatchObject({ reportedSuccessfulCount: 1 });
    } finally {
      await agent.close();
    }
  });

  it('configures an edge device that joins the target, restores overwritten content when the clock moves, and counts custom metrics', async () => {
    await registry.addConfiguration({
      id: 'layer-counted',
      content: { modulesContent: { counted: { 'properties.desired.level': 1 } } },
      targetCondition: "tags.fleet = 'edgetest'",
      priority: 50,
      metrics: {
        queries: { applied: "SELECT deviceId FROM devices.modules WHERE moduleId = '$edgeAgent' AND configurations.[[layer-counted]].status = 'Applied'" },
      },
    } as never);
    await registry.create({ deviceId: 'edge-p3', capabilities: { iotEdge: true } } as never);
    expect(await desiredOf('edge-p3', '$edgeAgent')).toEqual({});
    await registry.updateTwin('edge-p3', { tags: { env: 'prod', fleet: 'edgetest' } }, '*');
    await waitUntil(async () => (await desiredOf('edge-p3', '$edgeAgent')).modules?.extra, 5000, "the joining device's $edgeAgent configured");
    expect((await desiredOf('edge-p3', '$edgeAgent')).schemaVersion).toBe('1.1');
    const counted = (await registry.getConfiguration('layer-counted')).responseBody as Json;
    // edge-p1, edge-p2 and edge-p3 have a base below it; edge-d1 has none.
    expect(counted.metrics.results).toEqual({ applied: 3 });
    expect(counted.systemMetrics.results).toMatchObject({ targetedCount: 4, appliedCount: 3 });
    // A user overwrites the deployed runtime settings; the hub's next evaluation (the clock moving) restores them.
    await registry.updateModuleTwin('edge-p3', '$edgeAgent', { properties: { desired: { modules: null } } }, '*');
    expect(await desiredOf('edge-p3', '$edgeAgent')).not.toHaveProperty('modules');
    expect((await rest(hub, 'POST', '/$emulator/clock/advance', { seconds: 60 })).status).toBeLessThan(300);
    expect((await desiredOf('edge-p3', '$edgeAgent')).modules).toHaveProperty('extra');
    await registry.removeConfiguration('layer-counted');
  });

  it('leaves applied content in place when a device leaves every target; the next deployment applies when the winner goes', async () => {
    await registry.removeConfiguration('layer-metrics');
    await registry.updateTwin('edge-p2', { tags: { env: 'dev', fleet: 'gone' } }, '*');
    await waitUntil(async () => (await metricsOf('base-prod')).results.targetedCount === 2, 5000, 'edge-p2 no longer targeted (edge-p1 and edge-p3 are)');
    // Targeted by nothing now: it keeps running what it had (the last composition, including the layer).
    expect((await desiredOf('edge-p2', '$edgeAgent')).modules).toHaveProperty('extra');
    // Deleting edge-p1's winning base: the next-highest base applies, with the layers still above it.
    await registry.removeConfiguration('base-prod-v2');
    const p1 = await desiredOf('edge-p1', '$edgeAgent');
    expect(p1.modules).toEqual({ ...agentV1.modules, extra: { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: 'extra:1.0' } } });
    expect((await desiredOf('edge-p1', '$edgeHub')).storeAndForwardConfiguration).toEqual({ timeToLiveSecs: 7200 });
    // Deleting every deployment: what was applied stays.
    for (const id of ['base-prod', 'layer-extra', 'layer-extra-slow', 'layer-too-low']) await registry.removeConfiguration(id);
    expect((await desiredOf('edge-p1', '$edgeAgent')).modules).toHaveProperty('extra');
  });

  it('refuses an invalid deployment with 400 ArgumentInvalid and saves nothing', async () => {
    const path = (id: string) => `/configurations/${id}?api-version=2021-04-12`;
    const noHub = await rest(hub, 'PUT', path('bad-base'), {
      id: 'bad-base',
      content: { modulesContent: { $edgeAgent: { 'properties.desired': agentV1 } } },
      targetCondition: "tags.env = 'prod'",
    });
    expect(noHub.status).toBe(400);
    expect(noHub.headers.get('iothub-errorcode')).toBe('ArgumentInvalid');
    expect(noHub.text).toContain("A base deployment must set '$edgeHub' with 'properties.desired'");
    const badKey = await rest(hub, 'PUT', path('bad-key'), {
      id: 'bad-key',
      content: { modulesContent: { $edgeAgent: { 'desired.modules.x': {} } } },
      targetCondition: "tags.env = 'prod'",
    });
    expect(badKey.status).toBe(400);
    expect(badKey.text).toContain("'desired.modules.x' is not a desired-property path");
    const badCondition = await rest(hub, 'PUT', path('bad-cond'), { id: 'bad-cond', content: { modulesContent: baseV1 }, targetCondition: 'tags.env = ' });
    expect(badCondition.status).toBe(400);
    expect(badCondition.headers.get('iothub-errorcode')).toBe('ArgumentInvalid');
    expect((await rest(hub, 'GET', path('bad-base'))).status).toBe(404);
    // The SDK surfaces the same refusal.
    await expect(
      registry.addConfiguration({ id: 'bad-sdk', content: { modulesContent: { $edgeHub: { 'properties.desired': hubV1 } } }, targetCondition: '*' } as never),
    ).rejects.toMatchObject({ responseBody: expect.stringContaining('$edgeAgent') });
  });
});
