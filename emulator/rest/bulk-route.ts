import type { IncomingMessage, ServerResponse } from 'node:http';
import { asHubError } from '../error-rendering.js';
import { HubError } from '../errors.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import { bulkImport } from '../identity/bulk-import.js';
import type { RegistryService } from '../identity/registry-service.js';
import type { Permission } from '../identity/policies.js';
import type { TwinService } from '../twin/twin-service.js';
import { jsonBody, send, sendError } from './json.js';
import { readBody, refuseTooLarge } from './request-body.js';

// `/devices` alone: case-insensitive, an optional trailing slash and a query, as express matches it.
const ROUTE = /^\/devices\/?(?:\?|$)/i;
const WRITE: readonly Permission[] = ['RegistryWrite'];

/**
 * `POST /devices`, the bulk registry operation (docs/protocol.md §3.1), served straight from
 * Node's request event as the twin route is (twin-route.ts): registering devices in bulk is 100
 * devices a call, and express's router layers, body reader and response helpers were a tenth of
 * the emulator's time a device. Same contract as the express route in devices-router.ts: the
 * RegistryWrite permission, bulkImport, 200 or 400 with its result, the error envelope, the 1 MB
 * body limit. A request it does not recognise as plainly this one (another method, a
 * content-encoding to undo) goes to express unchanged: returns false for those.
 */
export function bulkRoute(
  auth: ServiceAuthenticator,
  registry: RegistryService,
  twins: TwinService,
  onUnexpected: (error: unknown) => void,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'POST' || !ROUTE.test(req.url ?? '')) return false;
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
    readBody(req, (raw) => {
      if (raw === undefined) return refuseTooLarge(req, res);
      try {
        auth.authorize(req.headers.authorization, WRITE);
        const result = bulkImport(jsonBody(raw), registry, twins);
        send(res, result.isSuccessful ? 200 : 400, result);
      } catch (error) {
        if (!(error instanceof HubError)) onUnexpected(error);
        sendError(res, asHubError(error));
      }
    });
    req.on('error', () => res.destroy());
    return true;
  };
}
