import { Router } from 'express';
import type { CloudToDeviceService } from '../c2d/index.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import { requires } from './authorization.js';
import { param } from './request.js';

/** Cloud-to-device queue operations over REST (docs/protocol.md §11): purge. */
export function c2dRouter(auth: ServiceAuthenticator, c2d: CloudToDeviceService): Router {
  const router = Router();
  // Purging a queue is a service operation (ServiceConnect), like sending to it.
  router.delete('/devices/:id/commands', requires(auth, 'ServiceConnect'), (req, res) => {
    const deviceId = param(req, 'id');
    const totalMessagesPurged = c2d.purge(deviceId);
    res.json({ totalMessagesPurged, deviceId, moduleId: null });
  });
  return router;
}
