import type { Clock } from '../clock.js';
import { HubError, argumentInvalid } from '../errors.js';
import type { HubEvents } from '../events.js';
import { moduleKey } from '../identity/module-record.js';
import { parseJobCondition, QueryError, type Query } from '../query/index.js';
import type { DeviceSelection } from '../selection/device-selection.js';
import type { ConfigurationStore } from '../store/configuration-store.js';
import { isoTime } from '../time.js';
import { isJsonObject, type JsonObject } from '../twin/json.js';
import type { TwinService } from '../twin/twin-service.js';
import { alreadyHolds, byPrecedence, readSettings, resolve, type Contender } from './configuration-content.js';
import { ContenderSet } from './contender-set.js';
import { EdgeDeployments } from './edge-deployments.js';
import { statusRows } from './status-rows.js';
import { PendingKeys } from './pending-keys.js';
import { asIs, configurationEtag, configurationJson, countMetrics, readsStatuses } from './configuration-json.js';
import { readConfigurationInput, validateConfigurationId, type ConfigurationRecord } from './configuration-record.js';
import { CONFIGURATION_CONTENDER_SETS_CACHED, CONFIGURATIONS_MAX } from '../limits.js';

/** A configuration compiled for evaluation: its condition and its settings, kept until it changes. */
interface Compiled extends Contender {
  record: ConfigurationRecord;
  /** device twins (deviceContent) or module twins (moduleContent) */
  target: 'devices' | 'devices.modules';
  condition: Query;
  /** whether the condition may read what applying content changes (desired properties, versions, etags) */
  readsWrites: boolean;
}

/**
 * Automatic device management (docs/protocol.md §17): configurations whose target
 * condition selects twins (the query language) and whose content sets those twins' desired
 * properties, highest priority winning per path. The hub applies them within minutes; the
 * emulator applies a new or changed configuration before answering, and re-evaluates a twin as
 * soon as its tags or reported properties change (or it is created), and everything when the
 * emulator clock is moved. Writes go through TwinService, so devices and modules get the same
 * desired notifications, events and `$metadata` as for any service update.
 */
export class ConfigurationService {
  private compiled: Compiled[] | undefined;
  /** the empty contender set of `compiled`: the root of the trie its contender sets are interned in */
  private noneTargets: ContenderSet<Compiled> | undefined;
  private readonly dirty = new PendingKeys((keys) => this.apply(keys));
  /** true while the service writes twins itself: its own writes do not re-trigger evaluation */
  private applying = false;
  /** at-scale IoT Edge deployments: the configurations whose content is modulesContent (docs/protocol.md §17.1) */
  private readonly deployments: EdgeDeployments;

  constructor(
    private readonly store: ConfigurationStore,
    private readonly selection: DeviceSelection,
    private readonly twins: TwinService,
    events: HubEvents,
    clock: Clock,
  ) {
    events.on('twinUpdated', ({ deviceId, moduleId, section }) => {
      if (section !== 'desired') this.markDirty(moduleId === undefined ? deviceId : moduleKey(deviceId, moduleId));
    });
    events.on('deviceCreated', ({ deviceId }) => this.markDirty(deviceId));
    events.on('moduleCreated', ({ deviceId, moduleId }) => this.markDirty(moduleKey(deviceId, moduleId)));
    this.deployments = new EdgeDeployments(() => this.store.all(), selection, twins, events);
    clock.onAdvance(() => {
      this.applyAll();
      this.deployments.applyAll();
    });
  }

  get(id: string): JsonObject {
    const record = this.require(id);
    return record.content.modulesContent ? this.deployments.render(record) : this.render(record);
  }

  list(): JsonObject[] {
    if (this.store.size === 0) return [];
    const targeting = this.target();
    let deployed: ReturnType<EdgeDeployments['applyAll']> | undefined;
    return this.store.all().map((record) => {
      if (!record.content.modulesContent) return this.render(record, targeting);
      if (!deployed) deployed = this.deployments.target();
      return this.deployments.render(record, deployed);
    });
  }

  /** `PUT /configurations/{id}` without If-Match: 409 when the id is taken. */
  create(id: string, body: unknown): JsonObject {
    validateConfigurationId(id);
    if (this.store.get(id)) throw new HubError('ConfigurationAlreadyExists', `A configuration with ID '${id}' already exists.`);
    if (this.store.size >= CONFIGURATIONS_MAX)
      throw new HubError('IotHubQuotaExceeded', `The hub already has the maximum of ${CONFIGURATIONS_MAX} configurations.`);
    const input = readConfigurationInput(body);
    const now = isoTime();
    const record: ConfigurationRecord = { id, schemaVersion: '1.0', ...input, createdTimeUtc: now, lastUpdatedTimeUtc: now, etagVersion: 1 };
    this.check(record); // refuses a bad condition or content before anything is saved
    this.store.save(record);
    return this.applied(record);
  }

  /**
   * `PUT /configurations/{id}` with If-Match. As on the hub, the content cannot change once
   * created (create a new configuration instead); labels, priority, target and metrics can.
   */
  update(id: string, body: unknown, ifMatch: string): JsonObject {
    const existing = this.require(id);
    checkEtag(existing, ifMatch);
    const input = readConfigurationInput(body);
    if (JSON.stringify(input.content) !== JSON.stringify(existing.content)) {
      throw argumentInvalid(`The content of configuration '${id}' cannot be changed; create a new configuration instead.`);
    }
    const record: ConfigurationRecord = {
      ...existing,
      ...input,
      content: existing.content,
      lastUpdatedTimeUtc: isoTime(),
      etagVersion: existing.etagVersion + 1,
    };
    this.check(record);
    this.store.save(record);
    return this.applied(record);
  }

  /** Deleting a configuration leaves what it set in place, as on the hub; it simply stops applying. */
  delete(id: string, ifMatch: string | undefined): void {
    const record = this.require(id);
    checkEtag(record, ifMatch);
    this.store.delete(id);
    this.compiled = undefined;
    this.deployments.invalidate();
    if (record.content.modulesContent) this.deployments.applyAll();
    else this.applyAll();
  }

  private check(record: ConfigurationRecord): void {
    if (record.content.modulesContent) this.deployments.check(record);
    else compile(record);
  }

  /** After a save: the configurations of the saved one's kind applied, and it rendered with its metrics. */
  private applied(record: ConfigurationRecord): JsonObject {
    this.compiled = undefined;
    this.deployments.invalidate();
    if (record.content.modulesContent) return this.deployments.render(record, this.deployments.applyAll());
    return this.render(record, this.applyAll());
  }

  /**
   * `POST /devices/{id}/applyConfigurationContent` (an IoT Edge deployment applied to one
   * device): `modulesContent` replaces each named module twin's desired properties
   * (`$edgeAgent`, `$edgeHub`, …), `deviceContent` / `moduleContent` merge into the device twin.
   */
  applyOnDevice(deviceId: string, body: unknown): void {
    if (!isJsonObject(body)) throw argumentInvalid('The configuration content must be a JSON object.');
    this.twins.get(deviceId); // DeviceNotFound first
    const modulesContent = body.modulesContent;
    if (isJsonObject(modulesContent)) {
      const replacements: [string, JsonObject][] = [];
      for (const [moduleId, content] of Object.entries(modulesContent)) {
        if (!isJsonObject(content) || !isJsonObject(content['properties.desired'])) {
          throw argumentInvalid(`modulesContent.${moduleId} must hold a 'properties.desired' object.`);
        }
        this.twins.get(deviceId, moduleId); // ModuleNotFound before anything is written
        replacements.push([moduleId, content['properties.desired']]);
      }
      for (const [moduleId, desired] of replacements) {
        const current = this.twins.get(deviceId, moduleId);
        this.twins.replace(deviceId, { tags: current.tags, properties: { desired } }, undefined, moduleId);
      }
    }
    const deviceContent = isJsonObject(body.deviceContent) ? body.deviceContent : undefined;
    if (deviceContent) {
      const settings = readSettings(deviceContent);
      if (typeof settings === 'string') throw argumentInvalid(settings);
      this.twins.update(deviceId, { properties: { desired: resolve([{ id: '', priority: 0, createdTimeUtc: '', settings }]).patch } }, undefined);
    }
    if (!isJsonObject(modulesContent) && !deviceContent) throw argumentInvalid('The content needs modulesContent or deviceContent.');
  }

  /** Hub reset: no configurations any more. */
  clear(): void {
    this.store.clear();
    this.compiled = undefined;
    this.deployments.clear();
    this.noneTargets = undefined;
    this.dirty.clear();
  }

  private require(id: string): ConfigurationRecord {
    const record = this.store.get(id);
    if (!record) throw new HubError('ConfigurationNotFound', `Configuration '${id}' could not be found.`);
    return record;
  }

  private all(): Compiled[] {
    if (!this.compiled) {
      this.compiled = this.store
        .all()
        .filter((record) => !record.content.modulesContent)
        .map(compile)
        .sort(byPrecedence);
      this.noneTargets = ContenderSet.empty();
    }
    return this.compiled;
  }

  /** The empty contender set of the current configurations (the root of their trie). */
  private emptySet(): ContenderSet<Compiled> {
    this.all();
    return this.noneTargets!;
  }

  /**
   * Called before each evaluation (never during one: its sets are compared by identity): a trie
   * grown past its bound starts again, so the memory it keeps stays bounded.
   */
  private boundCache(): void {
    if (this.noneTargets && this.noneTargets.trieSize > CONFIGURATION_CONTENDER_SETS_CACHED) this.noneTargets = ContenderSet.empty();
  }

  private markDirty(key: string): void {
    if (this.applying || this.store.size === 0) return;
    this.dirty.add(key);
  }

  /**
   * Every twin any configuration targets, with the configurations that target it: one
   * selectKeys per configuration (which may use the selection's indexes), none per twin.
   */
  private target(): Targeting {
    const configurations = this.all();
    this.boundCache();
    const byKey: Targeting = new Map();
    const none = this.emptySet();
    configurations.forEach((c, index) => {
      for (const key of this.selection.selectKeys(c.condition)) byKey.set(key, (byKey.get(key) ?? none).with(index, c));
    });
    return byKey;
  }

  /** The configurations among the first `upTo` (in precedence order) whose condition this twin matches. */
  private setFor(key: string, view: object, upTo: number): ContenderSet<Compiled> {
    const configurations = this.all();
    const isModule = key.includes('/');
    let set = this.emptySet();
    for (let index = 0; index < upTo; index++) {
      const c = configurations[index];
      if ((c.target === 'devices.modules') === isModule && c.condition.matches(view)) set = set.with(index, c);
    }
    return set;
  }

  /**
   * Every twin any configuration targets, written; returns the targeting as it stands after the
   * writes (the twins written are evaluated again when a condition may read what was just set), so
   * the PUT's answer counts its metrics without selecting everything a second time.
   */
  private applyAll(): Targeting {
    const targeting = this.target();
    const written = this.write(targeting);
    const configurations = this.all();
    if (!configurations.some((c) => c.readsWrites)) return targeting;
    const upTo = configurations.length;
    for (const key of written) {
      const view = this.selection.viewOf(key);
      const set = view && this.setFor(key, view, upTo);
      if (set && !set.isEmpty) targeting.set(key, set);
      else targeting.delete(key);
    }
    return targeting;
  }

  /** Re-evaluates a few twins (created, or their tags or reported properties changed). */
  private apply(keys: readonly string[]): void {
    const upTo = this.all().length;
    if (upTo === 0 || keys.length === 0) return;
    this.boundCache();
    const targeting: Targeting = new Map();
    for (const key of keys) {
      const view = this.selection.viewOf(key);
      if (!view) continue;
      const set = this.setFor(key, view, upTo);
      if (!set.isEmpty) targeting.set(key, set);
    }
    this.write(targeting);
  }

  /**
   * Writes each targeted twin's winning settings where it does not already hold them, twins with
   * the same patch together (one TwinService.updateMany, one transaction, per patch). Returns the
   * keys written.
   */
  private write(targeting: Targeting): string[] {
    const groups = new Map<string, { patch: JsonObject; keys: string[] }>();
    for (const [key, set] of targeting) {
      const view = this.selection.viewOf(key) as { properties: { desired: JsonObject } } | undefined;
      if (!view) continue;
      const { patch } = set.resolution;
      if (alreadyHolds(view.properties.desired, patch)) continue;
      const text = set.patchText;
      let group = groups.get(text);
      if (!group) {
        group = { patch, keys: [] };
        groups.set(text, group);
      }
      group.keys.push(key);
    }
    const written: string[] = [];
    this.applying = true;
    try {
      for (const { patch, keys } of groups.values()) {
        // A copy per call: the resolved patch is shared by every twin of its contender set, and
        // what updateMany is given travels on in events.
        this.twins.updateMany(keys, { desired: structuredClone(patch) }, undefined);
        for (const key of keys) written.push(key);
      }
    } finally {
      this.applying = false;
    }
    return written;
  }

  /**
   * The Configuration JSON with its system metrics and custom metric results, counted now.
   * `targeting` (every targeted twin and what targets it) is given when the caller has it: a
   * PUT that just applied, or a list rendering every configuration from one.
   */
  private render(record: ConfigurationRecord, given?: Targeting): JsonObject {
    const configurations = this.all();
    const index = configurations.findIndex((c) => c.id === record.id);
    const compiled = index < 0 ? compile(record) : configurations[index];
    let targeting = given;
    // Metric queries that read `configurations` see every twin's statuses: those need the whole targeting.
    if (!targeting && index >= 0 && Object.values(record.metricQueries).some(readsStatuses)) targeting = this.target();

    let targetedCount = 0;
    let appliedCount = 0;
    if (targeting && index >= 0) {
      const perSet = new Map<ContenderSet<Compiled>, number>();
      for (const set of targeting.values()) perSet.set(set, (perSet.get(set) ?? 0) + 1);
      for (const [set, n] of perSet) {
        if (!set.has(index)) continue;
        targetedCount += n;
        if (set.applies(index, record.id)) appliedCount += n;
      }
    } else {
      // Whether this configuration wins on a twin depends only on those before it in precedence.
      const targeted = this.selection.selectKeys(compiled.condition);
      targetedCount = targeted.length;
      if (index >= 0) {
        for (const key of targeted) {
          if (this.setFor(key, this.selection.viewOf(key)!, index).with(index, compiled).applies(index, record.id)) appliedCount++;
        }
      }
    }

    const results = countMetrics(this.selection, record.metricQueries, (text) => (targeting && readsStatuses(text) ? withStatuses(targeting) : asIs));
    return configurationJson(
      record,
      {
        results: { targetedCount, appliedCount },
        queries: {
          targetedCount: compiled.condition.text,
          appliedCount: `${compiled.condition.text.replace(/^SELECT \*/, 'SELECT deviceId')} AND configurations.[[${record.id}]].status = 'Applied'`,
        },
      },
      results,
    );
  }
}

/** Per targeted twin (by connection key), the configurations that target it. */
type Targeting = Map<string, ContenderSet<Compiled>>;

const NO_STATUSES: JsonObject = {};

/**
 * A twin's `configurations.{id}.status` is 'Targeted' or 'Applied'; a twin no configuration
 * targets has an empty `configurations`.
 */
function withStatuses(targeting: Targeting): (key: string, view: object) => object {
  const untargeted = statusRows(NO_STATUSES);
  return (key, view) => {
    const set = targeting.get(key);
    return set ? set.statusRow(view) : untargeted(view);
  };
}

function compile(record: ConfigurationRecord): Compiled {
  const content = record.content;
  const kind = content.moduleContent ? 'moduleContent' : 'deviceContent';
  const settings = readSettings(content[kind]!);
  if (typeof settings === 'string') throw argumentInvalid(`content.${kind}: ${settings}`);
  const target = kind === 'moduleContent' ? 'devices.modules' : 'devices';
  // An empty target condition targets nothing (the hub's own default for a configuration saved without one).
  const text = record.targetCondition.trim() === '' ? "deviceId = '' AND deviceId != ''" : record.targetCondition;
  let condition: Query;
  try {
    condition = parseJobCondition(target === 'devices.modules' && !/^\s*from/i.test(text) ? `FROM devices.modules WHERE ${text}` : text);
  } catch (error) {
    if (error instanceof QueryError) throw argumentInvalid(`The targetCondition is invalid. ${error.message}`);
    throw error;
  }
  if (condition.source !== target) throw argumentInvalid(`The targetCondition of a ${kind} configuration must select ${target}.`);
  // Writing desired properties changes them, their `$metadata` and `$version`, the twin's version
  // and etag: a condition that names none of these reads the same twin before and after.
  const readsWrites = /desired|version|etag/i.test(condition.text);
  return { id: record.id, priority: record.priority, createdTimeUtc: record.createdTimeUtc, settings, record, target, condition, readsWrites };
}

function checkEtag(record: ConfigurationRecord, ifMatch: string | undefined): void {
  if (ifMatch === undefined) return;
  let wanted = ifMatch.trim();
  if (wanted.length >= 2 && wanted.startsWith('"') && wanted.endsWith('"')) wanted = wanted.slice(1, -1);
  if (wanted === '*' || wanted === '') return;
  const current = configurationEtag(record);
  if (wanted !== current) {
    throw new HubError('PreconditionFailed', `Precondition failed: Configuration version did not match, existing etag:${current} provided etag:${wanted}`);
  }
}
