import { HubError, argumentInvalid } from '../errors.js';
import { isJsonObject, type JsonObject } from '../twin/json.js';
import { CONFIGURATION_ID_MAX_CHARS, CONFIGURATION_LABELS_MAX, CONFIGURATION_METRIC_QUERIES_MAX } from '../limits.js';

/** A configuration (automatic device management, docs/protocol.md §3.1 `/configurations`) as the hub keeps it. */
export interface ConfigurationRecord {
  id: string;
  schemaVersion: string;
  labels: Record<string, string>;
  content: { deviceContent?: JsonObject; moduleContent?: JsonObject; modulesContent?: JsonObject };
  targetCondition: string;
  createdTimeUtc: string;
  lastUpdatedTimeUtc: string;
  priority: number;
  /** custom metric queries by name */
  metricQueries: Record<string, string>;
  etagVersion: number;
}

// Configuration ids (docs): lowercase letters, digits and - + % _ * ! ', at most 128 characters.
const VALID_ID = /^[a-z0-9\-+%_*!']+$/;

export function validateConfigurationId(id: string): void {
  if (id.length === 0 || id.length > CONFIGURATION_ID_MAX_CHARS || !VALID_ID.test(id)) {
    throw argumentInvalid(`Configuration id '${id}' is invalid: use at most ${CONFIGURATION_ID_MAX_CHARS} lowercase letters, digits and - + % _ * ! '.`);
  }
}

/** The writable fields of a Configuration body, checked. */
export interface ConfigurationInput {
  labels: Record<string, string>;
  content: ConfigurationRecord['content'];
  targetCondition: string;
  priority: number;
  metricQueries: Record<string, string>;
}

export function readConfigurationInput(body: unknown): ConfigurationInput {
  if (!isJsonObject(body)) throw argumentInvalid('The configuration body must be a JSON object.');
  const labels = readStringMap(body.labels, 'labels', CONFIGURATION_LABELS_MAX);
  const content = isJsonObject(body.content) ? body.content : undefined;
  if (!content) throw new HubError('ArgumentNull', 'A configuration needs content (deviceContent, moduleContent or modulesContent).');
  const kinds = (['deviceContent', 'moduleContent', 'modulesContent'] as const).filter(
    (k) => isJsonObject(content[k]) && Object.keys(content[k] as JsonObject).length > 0,
  );
  if (kinds.length !== 1) {
    throw argumentInvalid('A configuration sets exactly one of content.deviceContent, content.moduleContent or content.modulesContent.');
  }
  const priority = body.priority === undefined || body.priority === null ? 0 : body.priority;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0) throw argumentInvalid('priority must be a non-negative integer.');
  const targetCondition = body.targetCondition === undefined || body.targetCondition === null ? '' : body.targetCondition;
  if (typeof targetCondition !== 'string') throw argumentInvalid('targetCondition must be a string.');
  const metrics = isJsonObject(body.metrics) ? body.metrics : {};
  const metricQueries = readStringMap(metrics.queries, 'metrics.queries', CONFIGURATION_METRIC_QUERIES_MAX);
  return { labels, content: { [kinds[0]]: content[kinds[0]] as JsonObject }, targetCondition, priority, metricQueries };
}

function readStringMap(value: unknown, what: string, max: number): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isJsonObject(value)) throw argumentInvalid(`${what} must be an object of strings.`);
  const entries = Object.entries(value);
  if (entries.length > max) throw argumentInvalid(`${what} can hold at most ${max} entries.`);
  for (const [key, v] of entries) if (typeof v !== 'string') throw argumentInvalid(`${what}.${key} must be a string.`);
  return value as Record<string, string>;
}
