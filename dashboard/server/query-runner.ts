import { HubError } from '../../emulator/errors.js';
import type { RegistryService } from '../../emulator/identity/registry-service.js';
import { DASHBOARD_MAX_QUERY_ROWS } from '../../emulator/limits.js';
import { parseQuery, QueryError, runQuery, type Query } from '../../emulator/query/index.js';
import { twinView } from '../../emulator/twin/twin-view.js';
import type { Scheduler } from '../../scheduler/scheduler.js';

export interface QueryResult {
  /** Twin, DeviceJob or Raw, as the hub's x-ms-item-type says */
  itemType: string;
  rows: unknown[];
  /** more results exist than the page shows */
  truncated: boolean;
  elapsedMs: number;
}

/** A refused query: the hub's words, and where in the text it went wrong. */
export interface QueryFailure {
  errorCode: string;
  message: string;
  position?: number;
}

/**
 * Runs a query as `POST /devices/query` does (the same parser, the same twin views, the same
 * device-job records) and returns its first rows. Errors carry the hub's 400 message and the
 * position the parser reports, so the page can point at it.
 */
export function runDashboardQuery(text: unknown, registry: RegistryService, scheduler: Scheduler): QueryResult {
  if (typeof text !== 'string' || text.trim() === '') throw new HubError('ArgumentNull', 'The query cannot be null or empty.');
  const started = performance.now();
  let query: Query;
  try {
    query = parseQuery(text);
  } catch (error) {
    if (error instanceof QueryError) throw new HubError('ArgumentInvalid', `The query is invalid. ${error.message}`, 'text', { position: error.position });
    throw error;
  }
  const limit = Math.min(query.top ?? Number.POSITIVE_INFINITY, DASHBOARD_MAX_QUERY_ROWS);
  const rows: unknown[] = [];
  let truncated = false;
  const source: Iterable<object> =
    query.source === 'devices.jobs'
      ? (function* () {
          for (const row of scheduler.deviceJobs(query.deviceIds)) yield row.record;
        })()
      : query.source === 'devices.modules'
        ? [] // no module identities yet, as the hub's query router answers
        : (function* () {
            const records = query.deviceIds ? query.deviceIds.map((id) => registry.find(id)).filter((r) => r !== undefined) : registry.list(Number.POSITIVE_INFINITY);
            for (const record of records) yield twinView(record);
          })();
  if (query.itemType === 'Raw') {
    const all = runQuery(query, source);
    rows.push(...all.slice(0, limit));
    truncated = all.length > limit;
  } else {
    for (const row of source) {
      if (!query.matches(row)) continue;
      if (rows.length === limit) {
        truncated = query.top === undefined || query.top > limit;
        break;
      }
      rows.push(row);
    }
  }
  return { itemType: query.itemType, rows, truncated, elapsedMs: performance.now() - started };
}
