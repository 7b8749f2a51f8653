import { Router } from 'express';
import { HubError } from '../errors.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import { moduleJson } from '../identity/module-json.js';
import type { ModuleInput, RegistryService } from '../identity/registry-service.js';
import { requires } from './authorization.js';
import { ifMatch, jsonBody, param } from './request.js';

/** Module identities (docs/protocol.md §3.1): `PUT/GET/DELETE /devices/{id}/modules/{mid}`, `GET /devices/{id}/modules`. */
export function modulesRouter(auth: ServiceAuthenticator, registry: RegistryService): Router {
  const router = Router();
  const read = requires(auth, 'RegistryRead');
  const write = requires(auth, 'RegistryWrite');

  router.get('/devices/:id/modules', read, (req, res) => {
    res.json(registry.modulesOf(param(req, 'id')).map(moduleJson));
  });

  router.get('/devices/:id/modules/:mid', read, (req, res) => {
    res.json(moduleJson(registry.getModule(param(req, 'id'), param(req, 'mid'))));
  });

  router.put('/devices/:id/modules/:mid', write, (req, res) => {
    const deviceId = param(req, 'id');
    const moduleId = param(req, 'mid');
    const body = jsonBody(req);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HubError('ArgumentInvalid', 'The module body must be a JSON object.');
    }
    const input = body as ModuleInput;
    if (input.moduleId !== undefined && input.moduleId !== moduleId) {
      throw new HubError('ArgumentInvalid', `The moduleId in the body ('${String(input.moduleId)}') does not match the one in the path ('${moduleId}').`);
    }
    if (input.deviceId !== undefined && input.deviceId !== deviceId) {
      throw new HubError('ArgumentInvalid', `The deviceId in the body ('${String(input.deviceId)}') does not match the one in the path ('${deviceId}').`);
    }
    const match = ifMatch(req);
    // As for devices: without If-Match a PUT creates (409 if taken); with it, it updates.
    const record =
      match === undefined ? registry.createModule(deviceId, { ...input, moduleId }) : registry.updateModule(deviceId, { ...input, moduleId }, match);
    res.json(moduleJson(record));
  });

  router.delete('/devices/:id/modules/:mid', write, (req, res) => {
    registry.deleteModule(param(req, 'id'), param(req, 'mid'), ifMatch(req));
    res.status(204).end();
  });

  return router;
}
