import type { IncomingMessage, ServerResponse } from 'node:http';
import { asHubError, restErrorBody, restErrorHeaders } from '../error-rendering.js';
import { HubError } from '../errors.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import type { Permission } from '../identity/policies.js';
import type { TwinService } from '../twin/twin-service.js';
import { jsonBody, send } from './json.js';
import { readBody, refuseTooLarge } from './request-body.js';

// `/twins/{id}` alone: case-insensitive and with an optional trailing slash, as express matches
// it; `/twins/{id}/modules/…`, `/twins/{id}/methods` and everything else are not this route.
const ROUTE = /^\/twins\/([^/?]+)\/?(?:\?|$)/i;
const READ: readonly Permission[] = ['RegistryRead', 'ServiceConnect'];
const WRITE: readonly Permission[] = ['RegistryWrite', 'ServiceConnect'];

/** What the IoT Hub metrics count for a twin call (the express face counts it in rest-metrics.ts). */
export type TwinCallCounter = (operation: 'c2d.twin.read' | 'c2d.twin.update', ok: boolean) => void;

/**
 * `GET`, `PATCH` and `PUT /twins/{id}` (docs/protocol.md §3.3) served straight from Node's request event,
 * as `POST /twins/{id}/methods` is (direct-method-route.ts): back ends and twin-heavy load
 * tests call them thousands of times a second, and express's router, body parser and response
 * helpers cost twice the twin work itself. Same contract as the express route it stands in
 * front of (twins-router.ts): the same permissions, service calls, error envelope, 1 MB body
 * limit and content type. A request it does not recognise as plainly one of these (another
 * method, a content-encoding to undo, a path that does not decode) goes to express unchanged.
 * Returns false for those.
 */
export function twinRoute(
  auth: ServiceAuthenticator,
  twins: TwinService,
  count: TwinCallCounter,
  onUnexpected: (error: unknown) => void,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const method = req.method;
    if (method !== 'GET' && method !== 'PATCH' && method !== 'PUT') return false;
    const match = ROUTE.exec(req.url ?? '');
    if (!match) return false;
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
    let deviceId: string;
    try {
      deviceId = decodeURIComponent(match[1]!);
    } catch {
      return false;
    }
    const operation = method === 'GET' ? 'c2d.twin.read' : 'c2d.twin.update';
    const answer = (status: number, body: unknown, headers?: Record<string, string>): void => {
      send(res, status, body, headers);
      count(operation, status < 400);
    };
    const answerOk = (twin: unknown): void => answer(200, twin);
    const fail = (error: unknown): void => {
      if (!(error instanceof HubError)) onUnexpected(error);
      const hubError = asHubError(error);
      answer(hubError.status, restErrorBody(hubError, 'A'), restErrorHeaders(hubError));
    };

    readBody(req, (raw) => {
      // Not counted, as express's body reader refuses it before any route (docs/protocol.md §14).
      if (raw === undefined) return refuseTooLarge(req, res);
      try {
        auth.authorize(req.headers.authorization, method === 'GET' ? READ : WRITE);
        if (method === 'GET') return answer(200, twins.get(deviceId));
        const body = jsonBody(raw);
        const ifMatch = req.headers['if-match'];
        // The answer is written as soon as the change is saved; its events follow in this same turn.
        if (method === 'PATCH') twins.update(deviceId, body, ifMatch, undefined, answerOk);
        else twins.replace(deviceId, body, ifMatch, undefined, answerOk);
      } catch (error) {
        fail(error);
      }
    });
    req.on('error', () => res.destroy());
    return true;
  };
}
