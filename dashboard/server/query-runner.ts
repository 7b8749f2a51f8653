import { DASHBOARD_MAX_QUERY_ROWS, HubError, parseQuery, QueryError, type DeviceSelection, type Query } from '../../emulator/index.js';
import type { Scheduler } from '../../scheduler/scheduler.js';

export interface QueryResult {
  /** Twin, DeviceJob or Raw, as the hub's x-ms-item-type says */
  itemType: string;
  rows: unknown[];
  /** more results exist than the page shows */
  truncated: boolean;
  elapsedMs: number;
}

/**
 * Runs a query as `POST /devices/query` does — the same parser, the same DeviceSelection over the
 * same twin views and device-job records — and returns its first page of up to
 * DASHBOARD_MAX_QUERY_ROWS. A refusal carries the hub's 400 message and, in `info.position`, where
 * the parser stopped, so the page can point at it.
 */
export function runDashboardQuery(text: unknown, selection: DeviceSelection, scheduler: Scheduler): QueryResult {
  if (typeof text !== 'string' || text.trim() === '') throw new HubError('ArgumentNull', 'The query cannot be null or empty.');
  const started = performance.now();
  let query: Query;
  try {
    query = parseQuery(text);
  } catch (error) {
    if (error instanceof QueryError) throw new HubError('ArgumentInvalid', `The query is invalid. ${error.message}`, { position: error.position });
    throw error;
  }
  const page = selection.page(query, { offset: 0, size: DASHBOARD_MAX_QUERY_ROWS, key: 'dashboard' }, (ids, after) => scheduler.deviceJobs(ids, after));
  return { itemType: query.itemType, rows: page.items, truncated: page.more, elapsedMs: performance.now() - started };
}
