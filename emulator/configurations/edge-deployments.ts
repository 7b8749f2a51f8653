import { HubError, argumentInvalid } from '../errors.js';
import type { HubEvents } from '../events.js';
import { parseJobCondition, QueryError, type Query } from '../query/index.js';
import type { DeviceSelection } from '../selection/device-selection.js';
import { isJsonObject, type JsonObject } from '../twin/json.js';
import type { TwinService } from '../twin/twin-service.js';
import { byPrecedence } from './configuration-content.js';
import type { ConfigurationRecord } from './configuration-record.js';
import { readDeploymentContent, resolveDeployments, sameDesired, type DeploymentContender, type DeploymentResolution } from './deployment-content.js';
import { statusRows } from './status-rows.js';
import { PendingKeys } from './pending-keys.js';
import { asIs, configurationJson, countMetrics, readsStatuses } from './configuration-json.js';

/** A deployment compiled for evaluation, kept until the configurations change. */
interface CompiledDeployment extends DeploymentContender {
  record: ConfigurationRecord;
  createdTimeUtc: string;
  /** `capabilities.iotEdge = true AND ({targetCondition})`: deployments target IoT Edge devices only */
  condition: Query;
}

/** Per targeted edge device, the deployments that target it (precedence order) and what they compose. */
type DeploymentTargeting = Map<string, { contenders: CompiledDeployment[]; resolution: DeploymentResolution }>;

const AGENT = '$edgeAgent';

/**
 * At-scale IoT Edge deployments (docs/protocol.md §17.1): configurations whose content is
 * `modulesContent`. Each targets the IoT Edge devices its condition selects; per device the
 * highest-precedence base deployment and the layered ones above it compose each module twin's
 * desired properties, which replace that twin's desired document (as a deployment does on the
 * hub) through TwinService, so a connected module gets the desired notification. A custom
 * module's twin is written once its identity exists (the edge agent creates it on a real device).
 * Records come from the configuration service, which owns the store.
 */
export type { DeploymentTargeting };

export class EdgeDeployments {
  private compiled: CompiledDeployment[] | undefined;
  private readonly dirty = new PendingKeys((deviceIds) => this.apply(deviceIds));

  constructor(
    private readonly records: () => ConfigurationRecord[],
    private readonly selection: DeviceSelection,
    private readonly twins: TwinService,
    events: HubEvents,
  ) {
    // A device twin's tags or reported properties may move it into or out of a target; a new
    // device may be targeted; a new module identity may be one a deployment configures.
    events.on('twinUpdated', ({ deviceId, moduleId, section }) => {
      if (moduleId === undefined && section !== 'desired') this.markDirty(deviceId);
    });
    events.on('deviceCreated', ({ deviceId }) => this.markDirty(deviceId));
    events.on('moduleCreated', ({ deviceId }) => this.markDirty(deviceId));
  }

  /** Refuses bad deployment content or condition before anything is saved (400 ArgumentInvalid). */
  check(record: ConfigurationRecord): void {
    compileDeployment(record);
  }

  /** The configurations changed: compile again at the next evaluation. */
  invalidate(): void {
    this.compiled = undefined;
  }

  clear(): void {
    this.compiled = undefined;
    this.dirty.clear();
  }

  /** Every targeted edge device evaluated and written; returns the targeting for rendering. */
  applyAll(): DeploymentTargeting {
    const targeting = this.target();
    for (const [deviceId, { resolution }] of targeting) this.write(deviceId, resolution);
    return targeting;
  }

  /** The Configuration JSON of a deployment, its system metrics (the hub's four) and custom metrics counted now. */
  render(record: ConfigurationRecord, given?: DeploymentTargeting): JsonObject {
    const targeting = given ?? this.target();
    let targetedCount = 0;
    let appliedCount = 0;
    let reportedSuccessfulCount = 0;
    let reportedFailedCount = 0;
    for (const [deviceId, { contenders, resolution }] of targeting) {
      if (!contenders.some((c) => c.id === record.id)) continue;
      targetedCount++;
      if (resolution.applied.get(record.id) !== true) continue;
      appliedCount++;
      const agent = this.selection.viewOf(`${deviceId}/${AGENT}`) as { properties: { desired: JsonObject; reported: JsonObject } } | undefined;
      if (!agent) continue;
      const { desired, reported } = agent.properties;
      if (reported.lastDesiredVersion !== desired.$version) continue;
      const status = reported.lastDesiredStatus;
      const code = isJsonObject(status) ? status.code : undefined;
      if (code === 200) reportedSuccessfulCount++;
      else if (code !== undefined && code !== null) reportedFailedCount++;
    }

    const results = countMetrics(this.selection, record.metricQueries, (text) => (readsStatuses(text) ? withStatuses(targeting) : asIs));
    const id = record.id;
    const applied = `select deviceId from devices.modules where moduleId = '${AGENT}' and configurations.[[${id}]].status = 'Applied'`;
    const reportedAt = `${applied} and properties.desired.$version = properties.reported.lastDesiredVersion`;
    return configurationJson(
      record,
      {
        results: { appliedCount, reportedFailedCount, reportedSuccessfulCount, targetedCount },
        queries: {
          appliedCount: applied,
          reportedFailedCount: `${reportedAt} and properties.reported.lastDesiredStatus.code != 200`,
          reportedSuccessfulCount: `${reportedAt} and properties.reported.lastDesiredStatus.code = 200`,
          targetedCount: `select deviceId from devices where capabilities.iotEdge = true${record.targetCondition.trim() ? ` and ${record.targetCondition}` : ''}`,
        },
      },
      results,
    );
  }

  private all(): CompiledDeployment[] {
    this.compiled ??= this.records()
      .filter((r) => r.content.modulesContent)
      .map(compileDeployment)
      .sort(byPrecedence);
    return this.compiled;
  }

  /** Every edge device some deployment targets: one selection per deployment, none per device. */
  target(): DeploymentTargeting {
    const byDevice = new Map<string, CompiledDeployment[]>();
    for (const deployment of this.all()) {
      for (const deviceId of this.selection.selectKeys(deployment.condition)) {
        const list = byDevice.get(deviceId);
        if (list) list.push(deployment);
        else byDevice.set(deviceId, [deployment]);
      }
    }
    // Devices targeted by the same deployments share one composition (shared: write() copies it).
    const byCombination = new Map<string, DeploymentResolution>();
    const targeting: DeploymentTargeting = new Map();
    for (const [deviceId, contenders] of byDevice) {
      const combination = contenders.map((c) => c.id).join('\n');
      let resolution = byCombination.get(combination);
      if (!resolution) {
        resolution = resolveDeployments(contenders);
        byCombination.set(combination, resolution);
      }
      targeting.set(deviceId, { contenders, resolution });
    }
    return targeting;
  }

  /**
   * Replaces each composed module twin's desired properties where they differ (a twin that
   * already holds them is not written). A module without an identity yet is left for its
   * `moduleCreated`; content the twin limits refuse is skipped (the twin keeps what it had).
   */
  private write(deviceId: string, resolution: DeploymentResolution): void {
    for (const [moduleId, desired] of resolution.modules) {
      const view = this.selection.viewOf(`${deviceId}/${moduleId}`) as { tags: JsonObject; properties: { desired: JsonObject } } | undefined;
      if (!view) continue;
      const { $metadata: _m, $version: _v, ...current } = view.properties.desired;
      if (sameDesired(current, desired)) continue;
      try {
        this.twins.replace(deviceId, { tags: view.tags, properties: { desired: structuredClone(desired) } }, undefined, moduleId);
      } catch (error) {
        if (!(error instanceof HubError)) throw error;
      }
    }
  }

  private markDirty(deviceId: string): void {
    if (this.all().length === 0) return;
    this.dirty.add(deviceId);
  }

  /** Re-evaluates a few devices (created, their tags or reported properties changed, a module added). */
  private apply(deviceIds: readonly string[]): void {
    const deployments = this.all();
    for (const deviceId of deviceIds) {
      const view = this.selection.viewOf(deviceId);
      if (!view) continue;
      const contenders = deployments.filter((d) => d.condition.matches(view));
      if (contenders.length > 0) this.write(deviceId, resolveDeployments(contenders));
    }
  }
}

/**
 * Metric queries see `configurations.{id}.status` of deployments on each device's `$edgeAgent`
 * module twin, where the hub's own `appliedCount` query reads it (docs/protocol.md §17.1).
 */
function withStatuses(targeting: DeploymentTargeting): (key: string, view: object) => object {
  const untargeted = statusRows({});
  const rows = new Map<string, (view: object) => object>();
  return (key, view) => {
    const slash = key.indexOf('/');
    const entry = slash > 0 && key.slice(slash + 1) === AGENT ? targeting.get(key.slice(0, slash)) : undefined;
    if (!entry) return untargeted(view);
    let row = rows.get(key);
    if (!row) {
      const statuses: JsonObject = {};
      for (const [id, applied] of entry.resolution.applied) statuses[id] = { status: applied ? 'Applied' : 'Targeted' };
      row = statusRows(statuses);
      rows.set(key, row);
    }
    return row(view);
  };
}

function compileDeployment(record: ConfigurationRecord): CompiledDeployment {
  const content = readDeploymentContent(record.content.modulesContent!);
  const text = record.targetCondition.trim();
  let condition: Query;
  try {
    // The user's condition alone first, so a parse error's position is in their text.
    const own = text === '' ? undefined : parseJobCondition(text);
    if (own && own.source !== 'devices')
      throw argumentInvalid('The targetCondition of a deployment must select devices (IoT Edge devices by their device twins).');
    // An empty target condition targets nothing, as for any configuration.
    const where = own ? (/^\s*from/i.test(text) ? text.replace(/^\s*from\s+devices\s*(where\s*)?/i, '') : text) : "deviceId = '' AND deviceId != ''";
    condition = parseJobCondition(where.trim() === '' ? 'capabilities.iotEdge = true' : `capabilities.iotEdge = true AND (${where})`);
  } catch (error) {
    if (error instanceof QueryError) throw argumentInvalid(`The targetCondition is invalid. ${error.message}`);
    throw error;
  }
  return { id: record.id, priority: record.priority, createdTimeUtc: record.createdTimeUtc, content, record, condition };
}
