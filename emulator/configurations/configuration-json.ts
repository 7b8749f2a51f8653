import { parseQuery } from '../query/index.js';
import type { DeviceSelection } from '../selection/device-selection.js';
import type { JsonObject } from '../twin/json.js';
import type { ConfigurationRecord } from './configuration-record.js';

/**
 * The Configuration as the service API answers it (docs/protocol.md §17), for device and module
 * configurations and IoT Edge deployments alike: the record's fields, the system metrics its
 * kind counts, and the custom metrics' results. Only the system metrics differ between the kinds.
 */
export function configurationJson(
  record: ConfigurationRecord,
  systemMetrics: { results: Record<string, number>; queries: Record<string, string> },
  metricResults: Record<string, number>,
): JsonObject {
  return {
    id: record.id,
    schemaVersion: record.schemaVersion,
    labels: record.labels,
    content: record.content as JsonObject,
    targetCondition: record.targetCondition,
    createdTimeUtc: record.createdTimeUtc,
    lastUpdatedTimeUtc: record.lastUpdatedTimeUtc,
    priority: record.priority,
    systemMetrics,
    metrics: { results: metricResults, queries: record.metricQueries },
    etag: configurationEtag(record),
  } as JsonObject;
}

export function configurationEtag(record: ConfigurationRecord): string {
  return Buffer.from(String(record.etagVersion)).toString('base64');
}

/** What a metric query counts: each twin's view as the query sees it (by connection key). */
export type MetricRows = (key: string, view: object) => object;

/**
 * The custom metric queries counted now, each over the rows `rowsFor` gives for its text; a query
 * the language refuses counts 0.
 */
export function countMetrics(selection: DeviceSelection, queries: Record<string, string>, rowsFor: (text: string) => MetricRows): Record<string, number> {
  const results: Record<string, number> = {};
  for (const [name, text] of Object.entries(queries)) {
    try {
      const query = parseQuery(text);
      results[name] = selection.count(query, rowsFor(text));
    } catch {
      results[name] = 0;
    }
  }
  return results;
}

/**
 * Metric queries see each twin's `configurations.{id}.status`, as on the hub. A query whose text
 * never names `configurations` cannot tell, so its rows are the twins' views as they are (asIs).
 */
export function readsStatuses(text: string): boolean {
  return /configurations/i.test(text);
}

export function asIs(_key: string, view: object): object {
  return view;
}
