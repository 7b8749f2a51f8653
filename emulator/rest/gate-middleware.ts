import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { HubError } from '../errors.js';
import { HubGate } from '../faults/hub-gate.js';
import type { ThrottledOperation } from '../throttle/tiers.js';
import { sendHubError } from './error-envelope.js';

/** The emulator's own routes: never throttled, never faulted (the chaos API must stay reachable). */
function isEmulatorRoute(path: string): boolean {
  const p = path.toLowerCase();
  return p.startsWith('/$emulator') || p === '/health' || p === '/metrics';
}

/** Which throttle a service REST call counts against (docs/protocol.md §6), if any. */
export function throttleClassOf(method: string, path: string): ThrottledOperation | undefined {
  const p = path.toLowerCase();
  if (p.startsWith('/devices/query')) return 'query';
  if (p.startsWith('/twins/')) return method === 'GET' ? 'twinRead' : 'twinUpdate';
  if (p.startsWith('/jobs/')) return 'jobs';
  if (p.startsWith('/configurations')) return 'configurations';
  if (p.startsWith('/devices') || p.startsWith('/statistics')) return 'registry';
  return undefined;
}

/** Bulk registry calls are charged one registry operation per device, as the quotas page says. */
function costOf(operation: ThrottledOperation, req: Request): number {
  if (operation !== 'registry' || req.method !== 'POST' || !Buffer.isBuffer(req.body) || req.body.length === 0) return 1;
  try {
    const parsed: unknown = JSON.parse(req.body.toString('utf8'));
    return Array.isArray(parsed) ? Math.max(1, parsed.length) : 1;
  } catch {
    return 1;
  }
}

/**
 * The REST face's one gate: the tier's throttles (a burst is answered late, beyond the backlog 429
 * ThrottlingException) and the chaos rules for REST routes and twin operations. Mounted after the
 * body parser (a bulk call's cost is its device count) and before every router.
 */
export function gateMiddleware(gate: HubGate): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (gate.idle || isEmulatorRoute(req.path)) return next();
    const operation = throttleClassOf(req.method, req.path);
    const twinId = operation === 'twinRead' || operation === 'twinUpdate' ? /^\/twins\/([^/]+)\/?$/i.exec(req.path)?.[1] : undefined;
    const decision = gate.check(operation, () => {
      const rest = gate.faults.restFault(req.method, req.path);
      if (rest || twinId === undefined) return rest;
      return gate.faults.operationFault(operation as 'twinRead' | 'twinUpdate', safeDecode(twinId));
    }, operation ? costOf(operation, req) : 1);
    HubGate.honour(decision).then(next, (error: unknown) => sendHubError(res, error as HubError));
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
