import { createHash } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { Scheduler } from '../../scheduler/scheduler.js';
import { HubError } from '../errors.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import { parseQuery, QueryError, runQuery, type Query } from '../query/index.js';
import type { DeviceRecord } from '../identity/device-record.js';
import type { DeviceStore } from '../store/device-store.js';
import { isJsonObject } from '../twin/json.js';
import { twinView } from '../twin/twin-view.js';
import { requires } from './authorization.js';
import { jsonBody } from './request.js';

/**
 * EMULATOR CHOICE (docs/protocol.md §3.5, §8.19): a page holds 100 items when x-ms-max-item-count is absent
 * or unreadable, and never more than 100 — the documented maximum ("the service may use a
 * different value if the value specified is not acceptable"). Smaller sizes are honoured.
 */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 100;

export interface PageRequest {
  /** results already delivered by earlier pages */
  offset: number;
  size: number;
  /** identifies what is being paged, so a token cannot be replayed against another query */
  key: string;
  /** the row the previous page ended on (deviceId, or device-job rowid), to resume without re-evaluating */
  after?: string | number;
}

export interface Page<T> {
  items: T[];
  more: boolean;
  /** the row the page ended on, when the source can resume from it */
  last?: string | number;
}

/**
 * Reads page size and continuation from the headers (or, for the jobs list, the `pageSize` /
 * `continuationToken` query parameters the docs also show). The token is stateless — how many
 * results were delivered, the row the page ended on, and a hash of the query — because results
 * come back in a stable order (registry order, then insertion order of job records).
 */
export function readPageRequest(req: Request, what: string): PageRequest {
  const key = createHash('sha256').update(what).digest('base64url').slice(0, 16);
  const sizeText = header(req, 'x-ms-max-item-count') ?? queryParam(req, 'pageSize');
  const requested = sizeText === undefined ? NaN : Number(sizeText);
  const size = Number.isInteger(requested) && requested >= 1 ? Math.min(requested, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
  const token = header(req, 'x-ms-continuation') ?? queryParam(req, 'continuationToken');
  if (token === undefined || token === '') return { offset: 0, size, key };
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  if (!isJsonObject(decoded) || typeof decoded.o !== 'number' || !Number.isInteger(decoded.o) || decoded.o < 0 || typeof decoded.k !== 'string') {
    throw new HubError('ArgumentInvalid', 'The continuation token is not one this hub issued.');
  }
  if (decoded.k !== key) throw new HubError('ArgumentInvalid', 'The continuation token belongs to a different query.');
  const after = typeof decoded.a === 'string' || typeof decoded.a === 'number' ? decoded.a : undefined;
  return { offset: decoded.o, size, key, ...(after !== undefined && { after }) };
}

/**
 * A page as the SDKs read it (docs/protocol.md §0.2, §0.3): bare JSON array, the item type in
 * x-ms-item-type, and x-ms-continuation only when another page exists — the Node SDK treats
 * any value of that header, even an empty one, as "more".
 */
export function sendPage(res: Response, itemType: string, result: Page<unknown>, page: PageRequest): void {
  res.set('x-ms-item-type', itemType);
  if (result.more) {
    const token = { o: page.offset + result.items.length, k: page.key, ...(result.last !== undefined && { a: result.last }) };
    res.set('x-ms-continuation', Buffer.from(JSON.stringify(token)).toString('base64'));
  }
  res.json(result.items);
}

/** One page of a list computed in full (aggregates, the job list). */
export function sliceArray<T>(all: readonly T[], page: PageRequest): Page<T> {
  const end = page.offset + page.size;
  return { items: all.slice(page.offset, end), more: end < all.length };
}

/** `POST /devices/query` (docs/protocol.md §3.5) over twins and device-job records. */
export function queryRouter(auth: ServiceAuthenticator, devices: DeviceStore, scheduler: Scheduler): Router {
  const router = Router();
  // Same rights as reading a twin (twins-router): queries read twins and job records only.
  const read = requires(auth, 'RegistryRead', 'ServiceConnect');

  router.post('/devices/query', read, (req, res) => {
    const body = jsonBody(req);
    const text = isJsonObject(body) ? body.query : undefined;
    if (typeof text !== 'string' || text.trim() === '') throw new HubError('ArgumentNull', 'The query cannot be null or empty.');
    let query: Query;
    try {
      query = parseQuery(text);
    } catch (error) {
      // The hub's words (docs/protocol.md §3.5) followed by where and what: never a 500 for a bad query.
      if (error instanceof QueryError) throw new HubError('ArgumentInvalid', `The query is invalid. ${error.message}`);
      throw error;
    }
    const page = readPageRequest(req, text);
    sendPage(res, query.itemType, runPage(query, page, devices, scheduler), page);
  });

  return router;
}

function runPage(query: Query, page: PageRequest, devices: DeviceStore, scheduler: Scheduler): Page<unknown> {
  switch (query.source) {
    case 'devices': {
      if (query.itemType === 'Raw') {
        const rows: object[] = [];
        for (const record of query.deviceIds ? recordsOf(query.deviceIds, devices) : devices.all()) rows.push(twinView(record));
        return sliceArray(runQuery(query, rows), page);
      }
      // A deviceIds hint reads a handful of twins through the id index instead of scanning.
      if (query.deviceIds) return scanPage(query, recordsOf(query.deviceIds, devices), twinView, undefined, undefined, page.offset, page);
      // Later pages skip the twins before the previous page's last one without evaluating them;
      // if that twin was deleted meanwhile, they fall back to counting matches.
      const resume = typeof page.after === 'string' && devices.has(page.after) ? page.after : undefined;
      return scanPage(query, devices.all(), twinView, (record) => record.deviceId, resume, resume === undefined ? page.offset : 0, page);
    }
    case 'devices.jobs': {
      if (query.deviceIds) {
        return scanPage(query, scheduler.deviceJobs(query.deviceIds), (row) => row.record, undefined, undefined, page.offset, page);
      }
      // Device-job records resume after the last rowid, so paging a 10,000-device job reads each record once.
      const after = typeof page.after === 'number' ? page.after : undefined;
      return scanPage(query, scheduler.deviceJobs(undefined, after), (row) => row.record, (row) => row.rowid, undefined, after === undefined ? page.offset : 0, page);
    }
    case 'devices.modules':
      // The emulator has no module identities yet, so there are no module twins to return.
      return { items: [], more: false };
  }
}

function recordsOf(deviceIds: readonly string[], devices: DeviceStore): DeviceRecord[] {
  const records: DeviceRecord[] = [];
  for (const id of deviceIds) {
    const record = devices.get(id);
    if (record) records.push(record);
  }
  return records;
}

/**
 * One SELECT * page without materialising every match: pass over the rows up to `resumeAfter`
 * (by key, unevaluated), skip `skip` matches, take `page.size`, and look one match further to
 * know whether another page exists; TOP bounds the whole result across pages. Rows are rendered
 * by `view` inside the loop: no generator sits between the registry and the predicate, which
 * over 100,000 twins is a measurable share of a query.
 */
function scanPage<T>(
  query: Query,
  source: Iterable<T>,
  view: (item: T) => object,
  key: ((item: T) => string | number) | undefined,
  resumeAfter: string | number | undefined,
  skip: number,
  page: PageRequest,
): Page<object> {
  const allowed = (query.top ?? Number.POSITIVE_INFINITY) - page.offset;
  const items: object[] = [];
  let last: string | number | undefined;
  let passing = resumeAfter !== undefined;
  let toSkip = skip;
  for (const item of source) {
    if (passing) {
      if (key!(item) === resumeAfter) passing = false;
      continue;
    }
    const row = view(item);
    if (!query.matches(row)) continue;
    if (toSkip > 0) {
      toSkip--;
      continue;
    }
    if (items.length >= allowed) break;
    if (items.length === page.size) return { items, more: true, last };
    items.push(row);
    if (key) last = key(item);
  }
  return { items, more: false };
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function queryParam(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' ? value : undefined;
}
