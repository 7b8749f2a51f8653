import type { NextFunction, Request, Response } from 'express';

/**
 * The dashboard has no login: it listens on loopback only, and any page the user's browser opens
 * elsewhere must not be able to drive it. Two checks do that:
 * - the Host header must name a loopback address or the hub's own names (a DNS-rebinding page
 *   arrives with its own host name); any port, since a container's port may be published as another;
 * - changes (POST, PUT, PATCH, DELETE) must be JSON and, when the browser says where they came
 *   from, come from the dashboard's own origin (a cross-site form cannot send JSON, and a
 *   cross-site fetch of JSON needs a CORS preflight the dashboard never grants).
 */
export function requestGuard(allowedNames: ReadonlySet<string>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!allowedNames.has(host.replace(/:\d+$/, ''))) {
      res
        .status(403)
        .type('text/plain')
        .send(`The dashboard answers only requests addressed to it by a loopback name (got Host: ${host || 'none'}).`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${host}`) {
        res.status(403).json({ status: 403, errorCode: 'Forbidden', message: `Requests from ${origin} may not change the hub.` });
        return;
      }
      if (req.method !== 'DELETE' && !req.is('application/json')) {
        res.status(415).json({ status: 415, errorCode: 'ArgumentInvalid', message: 'Send the body as application/json.' });
        return;
      }
    }
    next();
  };
}
