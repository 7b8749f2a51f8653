import { argumentInvalid } from '../errors.js';
import { isJsonObject, type Json, type JsonObject } from '../twin/json.js';
import { setAt, type DesiredSetting } from './configuration-content.js';

/** The IoT Edge runtime's module twins, which a base deployment must configure (docs/protocol.md §17.1). */
export const EDGE_RUNTIME_MODULES = ['$edgeAgent', '$edgeHub'] as const;

/** What a deployment sets on one module twin: its whole desired document, then paths inside it. */
export interface ModuleLayer {
  /** `"properties.desired": {…}`: the module twin's desired properties replaced wholesale */
  whole?: JsonObject;
  /** `"properties.desired.{path}": value`: that path set (replaced) on top */
  paths: DesiredSetting[];
}

/** A deployment's `modulesContent`, read. */
export interface DeploymentContent {
  /** a layered deployment (some module set by `properties.desired.{path}`) rather than a base one */
  layered: boolean;
  modules: Map<string, ModuleLayer>;
}

/**
 * Reads and checks `content.modulesContent` of an at-scale IoT Edge deployment
 * (docs/protocol.md §17.1). As `az iot edge deployment create` classifies it, a deployment is
 * layered when any module is set by a `properties.desired.{path}` key; otherwise it is a base
 * (standard) deployment, which must give `$edgeAgent` and `$edgeHub` whole `properties.desired`
 * documents. Refusals are 400 ArgumentInvalid, naming the offending key.
 */
export function readDeploymentContent(modulesContent: JsonObject): DeploymentContent {
  const modules = new Map<string, ModuleLayer>();
  let layered = false;
  for (const [moduleId, content] of Object.entries(modulesContent)) {
    if (moduleId === '' || moduleId.includes('/') || (moduleId.startsWith('$') && !(EDGE_RUNTIME_MODULES as readonly string[]).includes(moduleId))) {
      throw invalid(`'${moduleId}' is not a module id: custom module ids cannot be empty, contain '/' or start with '$' ($edgeAgent and $edgeHub excepted).`);
    }
    if (!isJsonObject(content) || Object.keys(content).length === 0) {
      throw invalid(`modulesContent.${moduleId} must be an object of 'properties.desired' or 'properties.desired.{path}' keys.`);
    }
    const layer: ModuleLayer = { paths: [] };
    for (const [key, value] of Object.entries(content)) {
      const parts = key.split('.');
      if (parts[0] !== 'properties' || parts[1] !== 'desired' || parts.some((p) => p === '')) {
        throw invalid(`modulesContent.${moduleId}: '${key}' is not a desired-property path: keys start with 'properties.desired'.`);
      }
      if (parts.length === 2) {
        if (!isJsonObject(value)) throw invalid(`modulesContent.${moduleId}: 'properties.desired' must be set to a JSON object.`);
        layer.whole = value;
      } else {
        layered = true;
        layer.paths.push({ path: parts.slice(2), value });
      }
    }
    modules.set(moduleId, layer);
  }
  if (!layered) {
    for (const runtime of EDGE_RUNTIME_MODULES) {
      if (!modules.get(runtime)?.whole) {
        throw invalid(
          `A base deployment must set '${runtime}' with 'properties.desired' in modulesContent; a layered deployment sets 'properties.desired.{path}' keys instead.`,
        );
      }
    }
  }
  return { layered, modules };
}

/** What resolution needs of one deployment. */
export interface DeploymentContender {
  id: string;
  priority: number;
  content: DeploymentContent;
}

export interface DeploymentResolution {
  /** the deployment applied as the device's base, if any */
  baseId?: string;
  /** per deployment targeting the device: whether it is applied (the base, and layers above it) */
  applied: Map<string, boolean>;
  /** each module twin's desired properties as the deployments compose them */
  modules: Map<string, JsonObject>;
}

/**
 * The deployments that target one edge device, composed as the hub does (docs/protocol.md §17.1):
 * the highest-precedence base deployment applies, the others do not and are not merged; layered
 * deployments of a higher priority than that base are applied on top, lowest precedence first, so
 * a higher one overwrites a module or path a lower one set. Without a base deployment nothing applies.
 * `contenders` must be sorted highest precedence first (byPrecedence).
 */
export function resolveDeployments(contenders: readonly DeploymentContender[]): DeploymentResolution {
  const applied = new Map<string, boolean>();
  const modules = new Map<string, JsonObject>();
  const base = contenders.find((c) => !c.content.layered);
  for (const c of contenders) applied.set(c.id, false);
  if (!base) return { applied, modules };
  applied.set(base.id, true);
  for (const [moduleId, layer] of base.content.modules) compose(modules, moduleId, layer);
  const layers = contenders.filter((c) => c.content.layered && c.priority > base.priority).reverse();
  for (const layer of layers) {
    applied.set(layer.id, true);
    for (const [moduleId, moduleLayer] of layer.content.modules) compose(modules, moduleId, moduleLayer);
  }
  return { baseId: base.id, applied, modules };
}

function compose(modules: Map<string, JsonObject>, moduleId: string, layer: ModuleLayer): void {
  let desired = layer.whole ? structuredClone(layer.whole) : modules.get(moduleId);
  desired ??= {};
  for (const setting of layer.paths) setAt(desired, setting.path, setting.value);
  modules.set(moduleId, desired);
}

/** Whether two desired documents hold the same properties (key order aside). */
export function sameDesired(a: JsonObject, b: JsonObject): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isJsonObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function invalid(message: string) {
  return argumentInvalid(`The deployment content is invalid. ${message}`);
}
