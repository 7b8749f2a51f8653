import { Router } from 'express';
import type { ServiceAuthenticator } from '../identity/auth.js';
import type { TwinService } from '../twin/twin-service.js';
import { requires } from './authorization.js';
import { ifMatch, jsonBody, param } from './request.js';

/** Twins (docs/protocol.md §3.3). Direct methods, also under /twins/{id}, have their own route: direct-method-route.ts. */
export function twinsRouter(auth: ServiceAuthenticator, twins: TwinService): Router {
  const router = Router();
  const read = requires(auth, 'RegistryRead', 'ServiceConnect');
  const write = requires(auth, 'RegistryWrite', 'ServiceConnect');

  router.get('/twins/:id', read, (req, res) => {
    res.json(twins.get(param(req, 'id')));
  });

  router.patch('/twins/:id', write, (req, res) => {
    res.json(twins.update(param(req, 'id'), jsonBody(req), ifMatch(req)));
  });

  router.put('/twins/:id', write, (req, res) => {
    res.json(twins.replace(param(req, 'id'), jsonBody(req), ifMatch(req)));
  });

  // Module twins (docs/protocol.md §3.3): the same rules under /twins/{id}/modules/{mid}.
  router.get('/twins/:id/modules/:mid', read, (req, res) => {
    res.json(twins.get(param(req, 'id'), param(req, 'mid')));
  });

  router.patch('/twins/:id/modules/:mid', write, (req, res) => {
    res.json(twins.update(param(req, 'id'), jsonBody(req), ifMatch(req), param(req, 'mid')));
  });

  router.put('/twins/:id/modules/:mid', write, (req, res) => {
    res.json(twins.replace(param(req, 'id'), jsonBody(req), ifMatch(req), param(req, 'mid')));
  });

  return router;
}
