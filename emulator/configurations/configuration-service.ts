import type { Clock } from '../clock.js';
import { HubError, argumentInvalid } from '../errors.js';
import type { HubEvents } from '../events.js';
import { moduleKey } from '../identity/module-record.js';
import { parseJobCondition, parseQuery, QueryError, type Query } from '../query/index.js';
import type { DeviceSelection } from '../selection/device-selection.js';
import type { ConfigurationStore } from '../store/configuration-store.js';
import { isoTime } from '../time.js';
import { isJsonObject, type JsonObject } from '../twin/json.js';
import type { TwinService } from '../twin/twin-service.js';
import { alreadyHolds, byPrecedence, readSettings, resolve, type Contender } from './configuration-content.js';
import { readConfigurationInput, validateConfigurationId, type ConfigurationRecord } from './configuration-record.js';
import { CONFIGURATIONS_MAX } from '../limits.js';

/** A configuration compiled for evaluation: its condition and its settings, kept until it changes. */
interface Compiled extends Contender {
  record: ConfigurationRecord;
  /** device twins (deviceContent) or module twins (moduleContent) */
  target: 'devices' | 'devices.modules';
  condition: Query;
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
  private readonly dirty = new Set<string>();
  private flushScheduled = false;
  /** true while the service writes twins itself: its own writes do not re-trigger evaluation */
  private applying = false;

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
    clock.onAdvance(() => this.applyAll());
  }

  get(id: string): JsonObject {
    return this.render(this.require(id));
  }

  list(): JsonObject[] {
    return this.store.all().map((record) => this.render(record));
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
    compile(record); // refuses a bad condition or content before anything is saved
    this.store.save(record);
    this.compiled = undefined;
    this.applyAll();
    return this.render(record);
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
    compile(record);
    this.store.save(record);
    this.compiled = undefined;
    this.applyAll();
    return this.render(record);
  }

  /** Deleting a configuration leaves what it set in place, as on the hub; it simply stops applying. */
  delete(id: string, ifMatch: string | undefined): void {
    const record = this.require(id);
    checkEtag(record, ifMatch);
    this.store.delete(id);
    this.compiled = undefined;
    this.applyAll();
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
    this.dirty.clear();
  }

  private require(id: string): ConfigurationRecord {
    const record = this.store.get(id);
    if (!record) throw new HubError('ConfigurationNotFound', `Configuration '${id}' could not be found.`);
    return record;
  }

  private all(): Compiled[] {
    this.compiled ??= this.store.all().map(compile).sort(byPrecedence);
    return this.compiled;
  }

  private markDirty(key: string): void {
    if (this.applying || this.store.size === 0) return;
    this.dirty.add(key);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const keys = [...this.dirty];
      this.dirty.clear();
      this.apply(keys);
    });
  }

  /** Every twin any configuration targets. */
  private applyAll(): void {
    const keys = new Set<string>();
    for (const c of this.all()) for (const key of this.selection.selectKeys(c.condition)) keys.add(key);
    this.apply([...keys]);
  }

  /**
   * Resolves each twin's winning settings and writes the ones it does not already hold, twins
   * with the same patch together (one TwinService.updateMany, one transaction, per patch).
   */
  private apply(keys: readonly string[]): void {
    const configurations = this.all();
    if (configurations.length === 0 || keys.length === 0) return;
    const groups = new Map<string, { patch: JsonObject; keys: string[] }>();
    for (const key of keys) {
      const view = this.selection.viewOf(key) as { properties: { desired: JsonObject } } | undefined;
      if (!view) continue;
      const isModule = key.includes('/');
      const contenders = configurations.filter((c) => (c.target === 'devices.modules') === isModule && c.condition.matches(view));
      if (contenders.length === 0) continue;
      const { patch } = resolve(contenders);
      if (alreadyHolds(view.properties.desired, patch)) continue;
      const text = JSON.stringify(patch);
      let group = groups.get(text);
      if (!group) {
        group = { patch, keys: [] };
        groups.set(text, group);
      }
      group.keys.push(key);
    }
    this.applying = true;
    try {
      for (const { patch, keys: groupKeys } of groups.values()) this.twins.updateMany(groupKeys, { desired: patch }, undefined);
    } finally {
      this.applying = false;
    }
  }

  /** The Configuration JSON with its system metrics and custom metric results, counted now. */
  private render(record: ConfigurationRecord): JsonObject {
    const compiled = this.all().find((c) => c.id === record.id) ?? compile(record);
    const contendersFor = (view: object, isModule: boolean): Compiled[] =>
      this.all().filter((c) => (c.target === 'devices.modules') === isModule && c.condition.matches(view));
    const targeted = this.selection.selectKeys(compiled.condition);
    let applied = 0;
    const status = new Map<string, JsonObject>();
    for (const key of targeted) {
      const view = this.selection.viewOf(key)!;
      const resolution = resolve(contendersFor(view, key.includes('/')));
      if (resolution.applied.get(record.id)) applied++;
    }
    // Metric queries see each twin's `configurations.{id}.status` ('Targeted' or 'Applied'), as on the hub.
    const decorate = (key: string, view: object): object => {
      let statuses = status.get(key);
      if (!statuses) {
        statuses = {};
        const resolution = resolve(contendersFor(view, key.includes('/')));
        for (const [id, wins] of resolution.applied) statuses[id] = { status: wins ? 'Applied' : 'Targeted' };
        status.set(key, statuses);
      }
      return { ...view, configurations: statuses };
    };
    const results: Record<string, number> = {};
    for (const [name, text] of Object.entries(record.metricQueries)) {
      try {
        results[name] = this.selection.count(parseQuery(text), decorate);
      } catch {
        results[name] = 0;
      }
    }
    return {
      id: record.id,
      schemaVersion: record.schemaVersion,
      labels: record.labels,
      content: record.content as JsonObject,
      targetCondition: record.targetCondition,
      createdTimeUtc: record.createdTimeUtc,
      lastUpdatedTimeUtc: record.lastUpdatedTimeUtc,
      priority: record.priority,
      systemMetrics: {
        results: { targetedCount: targeted.length, appliedCount: applied },
        queries: {
          targetedCount: compiled.condition.text,
          appliedCount: `${compiled.condition.text.replace(/^SELECT \*/, 'SELECT deviceId')} AND configurations.[[${record.id}]].status = 'Applied'`,
        },
      },
      metrics: { results, queries: record.metricQueries },
      etag: configurationEtag(record),
    } as JsonObject;
  }
}

function compile(record: ConfigurationRecord): Compiled {
  const content = record.content;
  const kind = content.moduleContent ? 'moduleContent' : content.deviceContent ? 'deviceContent' : 'modulesContent';
  if (kind === 'modulesContent') {
    throw argumentInvalid('modulesContent is an IoT Edge deployment: apply it to a device with POST /devices/{id}/applyConfigurationContent.');
  }
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
  return { id: record.id, priority: record.priority, createdTimeUtc: record.createdTimeUtc, settings, record, target, condition };
}

function configurationEtag(record: ConfigurationRecord): string {
  return Buffer.from(String(record.etagVersion)).toString('base64');
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
