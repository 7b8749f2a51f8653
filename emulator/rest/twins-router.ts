import { Router } from 'express';
import type { ServiceAuthenticator } from '../identity/auth.js';
import { readMethodCall, type MethodService } from '../methods/method-service.js';
import type { TwinService } from '../twin/twin-service.js';
import { requires } from './authorization.js';
import { ifMatch, jsonBody, param } from './request.js';

/** Twins (spec §3.3) and direct methods (spec §3.4), which live under /twins/{id}. */
export function twinsRouter(auth: ServiceAuthenticator, twins: TwinService, methods: MethodService): Router {
  const router = Router();
  const read = requires(auth, 'RegistryRead', 'ServiceConnect');
  const write = requires(auth, 'RegistryWrite', 'ServiceConnect');
  const connect = requires(auth, 'ServiceConnect');

  router.get('/twins/:id', read, (req, res) => {
    res.json(twins.get(param(req, 'id')));
  });

  router.patch('/twins/:id', write, (req, res) => {
    res.json(twins.update(param(req, 'id'), jsonBody(req), ifMatch(req)));
  });

  router.put('/twins/:id', write, (req, res) => {
    res.json(twins.replace(param(req, 'id'), jsonBody(req), ifMatch(req)));
  });

  router.post('/twins/:id/methods', connect, async (req, res) => {
    const call = readMethodCall(jsonBody(req));
    const result = await methods.invoke(param(req, 'id'), call);
    res.json(result);
  });

  return router;
}
