import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { HubMetrics } from './metrics.js';

type CountedOperation =
  | 'c2d.twin.read'
  | 'c2d.twin.update'
  | 'twinQueries'
  | 'jobs.createDirectMethodJob'
  | 'jobs.createTwinUpdateJob'
  | 'jobs.cancelJob'
  | 'jobs.queryJobs';
/** Direct methods are counted from hub events (jobs call them too); here they only name a throttled call. */
type Operation = CountedOperation | 'c2d.methods';

/** Which IoT Hub metric a service REST call counts towards, if any. */
export function classifyRestCall(method: string, path: string, body: unknown): Operation | undefined {
  const p = path.toLowerCase().replace(/\/+$/, '');
  if (/^\/twins\/[^/]+\/methods$/.test(p) && method === 'POST') return 'c2d.methods';
  if (/^\/twins\/[^/]+$/.test(p)) {
    if (method === 'GET') return 'c2d.twin.read';
    if (method === 'PATCH' || method === 'PUT') return 'c2d.twin.update';
    return undefined;
  }
  if (p === '/devices/query' && method === 'POST') return 'twinQueries';
  if (p === '/jobs/v2/query' && method === 'GET') return 'jobs.queryJobs';
  if (/^\/jobs\/v2\/[^/]+\/cancel$/.test(p) && method === 'POST') return 'jobs.cancelJob';
  if (/^\/jobs\/v2\/[^/]+$/.test(p) && method === 'PUT')
    return jobTypeOf(body) === 'scheduleUpdateTwin' ? 'jobs.createTwinUpdateJob' : 'jobs.createDirectMethodJob';
  return undefined;
}

function jobTypeOf(body: unknown): string | undefined {
  if (!Buffer.isBuffer(body) || body.length === 0) return undefined;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { type?: unknown };
    return typeof parsed?.type === 'string' ? parsed.type : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Middleware: counts each classified call as success or failure once its response is sent, and
 * every 429 as throttled (labelled by operation, never by path: device ids would explode the series).
 */
export function restMetrics(metrics: HubMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const operation = classifyRestCall(req.method, req.path, req.body);
    res.once('finish', () => {
      if (operation && operation !== 'c2d.methods') metrics.count(res.statusCode < 400 ? `${operation}.success` : `${operation}.failure`);
      if (res.statusCode === 429) metrics.countThrottled(operation ?? 'other');
    });
    next();
  };
}
