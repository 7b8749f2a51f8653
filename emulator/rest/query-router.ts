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
 * EMULATOR CHOICE (spec §3.5, §8.19): a page holds 100 items when x-ms-max-item-count is absent
 * or unreadable, and never more than 100 — the documented maximum ("the service may use a
 * different value if the value specified is not acceptable"). Smaller sizes are honoured.
 */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 100;

export interface PageRequest {
  offset: number;
  size: number;
  /** identifies what is being paged, so a token cannot be replayed against another query */
  key: string;
}

/**
 * Reads page size and continuation from the headers (or, for the jobs list, the `pageSize` /
 * `continuationToken` query parameters the docs also show). The token is stateless — the
 * offset of the next item plus a hash of the query — because results come back in a stable
 * order (registry order, then insertion order of job records).
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
  return { offset: decoded.o, size, key };
}

/**
 * A page as the SDKs read it (spec §0.2, §0.3): bare JSON array, the item type in
 * x-ms-item-type, and x-ms-continuation only when another page exists — the Node SDK treats
 * any value of that header, even an empty one, as "more".
 */
export function sendPage(res: Response, itemType: string, items: readonly unknown[], page: PageRequest, more: boolean): void {
  res.set('x-ms-item-type', itemType);
  if (more) res.set('x-ms-continuation', Buffer.from(JSON.stringify({ o: page.offset + items.length, k: page.key })).toString('base64'));
  res.json(items);
}

/** One page of a list computed in full (aggregates, the job list). */
export function sliceArray<T>(all: readonly T[], page: PageRequest): { items: T[]; more: boolean } {
  const end = page.offset + page.size;
  return { items: all.slice(page.offset, end), more: end < all.length };
}

/** `POST /devices/query` (spec §3.5) over twins and device-job records. */
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
      // The hub's words (spec §3.5) followed by where and what: never a 500 for a bad query.
      if (error instanceof QueryError) throw new HubError('ArgumentInvalid', `The query is invalid. ${error.message}`);
      throw error;
    }
    const page = readPageRequest(req, text);
    const { items, more } = runPage(query, page, devices, scheduler);
    sendPage(res, query.itemType, items, page, more);
  });

  return router;
}

function runPage(query: Query, page: PageRequest, devices: DeviceStore, scheduler: Scheduler): { items: unknown[]; more: boolean } {
  switch (query.source) {
    case 'devices': {
      // A deviceIds hint reads through the id index instead of scanning every twin.
      const records = query.deviceIds ? recordsOf(query.deviceIds, devices) : devices.all();
      if (query.itemType !== 'Raw') return streamPage(query, records, twinView, page);
      const rows: object[] = [];
      for (const record of records) rows.push(twinView(record));
      return sliceArray(runQuery(query, rows), page);
    }
    case 'devices.jobs':
      return streamPage(query, scheduler.deviceJobs(query.deviceIds), (row) => row, page);
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
 * SELECT * pages without materialising every match: skip `offset` matches, take `size`, and
 * look one match further to know whether another page exists (TOP still bounds the whole result).
 * Rows are rendered by `view` inside the loop: no generator sits between the registry and the
 * predicate, which over 100,000 twins is a measurable share of a query.
 */
function streamPage<T>(query: Query, source: Iterable<T>, view: (item: T) => object, page: PageRequest): { items: object[]; more: boolean } {
  const limit = query.top ?? Number.POSITIVE_INFINITY;
  const items: object[] = [];
  let index = 0;
  for (const item of source) {
    const row = view(item);
    if (!query.matches(row)) continue;
    if (index >= limit) break;
    if (index >= page.offset) {
      if (items.length === page.size) return { items, more: true };
      items.push(row);
    }
    index++;
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
