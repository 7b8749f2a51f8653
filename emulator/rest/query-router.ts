import { createHash } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { HubError } from '../errors.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import { parseQuery, QueryError, type Query } from '../query/index.js';
import type { DeviceJobRecords, DeviceSelection } from '../selection/device-selection.js';
import type { Page, PageRequest } from '../selection/paging.js';
import { isJsonObject } from '../twin/json.js';
import { requires } from './authorization.js';
import { jsonBody } from './request.js';
import { QUERY_DEFAULT_PAGE_SIZE, QUERY_MAX_PAGE_SIZE } from '../limits.js';

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
  const size = Number.isInteger(requested) && requested >= 1 ? Math.min(requested, QUERY_MAX_PAGE_SIZE) : QUERY_DEFAULT_PAGE_SIZE;
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

/** `POST /devices/query` (docs/protocol.md §3.5) over twins and device-job records, through the device-selection service. */
export function queryRouter(auth: ServiceAuthenticator, selection: DeviceSelection, deviceJobs: DeviceJobRecords | undefined): Router {
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
    // Declared indexes still being built in the background (docs/scaling.md §3.2): the query waits
    // for them without holding up other requests, then answers as it would have after the build.
    const building = selection.indexesBuilding(query);
    if (building === undefined) sendPage(res, query.itemType, selection.page(query, page, deviceJobs), page);
    else return building.then(() => sendPage(res, query.itemType, selection.page(query, page, deviceJobs), page));
  });

  return router;
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function queryParam(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' ? value : undefined;
}
