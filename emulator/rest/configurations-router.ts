import { Router } from 'express';
import type { ConfigurationService } from '../configurations/configuration-service.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import { requires } from './authorization.js';
import { ifMatch, jsonBody, param } from './request.js';

/** Configurations (automatic device management) and IoT Edge deployments applied to one device. */
export function configurationsRouter(auth: ServiceAuthenticator, configurations: ConfigurationService): Router {
  const router = Router();
  const read = requires(auth, 'RegistryRead');
  const write = requires(auth, 'RegistryWrite');

  router.get('/configurations', read, (_req, res) => {
    res.json(configurations.list());
  });

  router.get('/configurations/:id', read, (req, res) => {
    res.json(configurations.get(param(req, 'id')));
  });

  router.put('/configurations/:id', write, (req, res) => {
    const id = param(req, 'id');
    const match = ifMatch(req);
    res.json(match === undefined ? configurations.create(id, jsonBody(req)) : configurations.update(id, jsonBody(req), match));
  });

  router.delete('/configurations/:id', write, (req, res) => {
    configurations.delete(param(req, 'id'), ifMatch(req));
    res.status(204).end();
  });

  router.post('/devices/:id/applyConfigurationContent', write, (req, res) => {
    configurations.applyOnDevice(param(req, 'id'), jsonBody(req));
    res.status(204).end();
  });

  return router;
}
