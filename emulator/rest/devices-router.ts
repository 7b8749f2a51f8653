import { Router } from 'express';
import { HubError } from '../errors.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import { bulkImport } from '../identity/bulk-import.js';
import { deviceJson } from '../identity/device-json.js';
import type { DeviceInput, RegistryService } from '../identity/registry-service.js';
import type { TwinService } from '../twin/twin-service.js';
import { requires } from './authorization.js';
import { ifMatch, jsonBody, param } from './request.js';
import { DEVICE_LIST_MAX_TOP } from '../limits.js';

/** Registry (docs/protocol.md §3.1): devices, bulk operations and statistics. */
export function devicesRouter(auth: ServiceAuthenticator, registry: RegistryService, twins: TwinService): Router {
  const router = Router();
  const read = requires(auth, 'RegistryRead');
  const write = requires(auth, 'RegistryWrite');

  router.get('/statistics/devices', read, (_req, res) => {
    res.json(registry.statistics());
  });

  router.get('/devices', read, (req, res) => {
    // `top` outside 1–DEVICE_LIST_MAX_TOP is treated as that maximum, as the hub does.
    const top = Number(req.query.top);
    const limit = Number.isInteger(top) && top >= 1 && top <= DEVICE_LIST_MAX_TOP ? top : DEVICE_LIST_MAX_TOP;
    res.json(registry.list(limit).map(deviceJson));
  });

  router.post('/devices', write, (req, res) => {
    const result = bulkImport(jsonBody(req), registry, twins);
    res.status(result.isSuccessful ? 200 : 400).json(result);
  });

  router.get('/devices/:id', read, (req, res) => {
    res.json(deviceJson(registry.get(param(req, 'id'))));
  });

  router.put('/devices/:id', write, (req, res) => {
    const deviceId = param(req, 'id');
    const body = jsonBody(req);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HubError('ArgumentInvalid', 'The device body must be a JSON object.');
    }
    const input = body as DeviceInput;
    if (input.deviceId !== undefined && input.deviceId !== deviceId) {
      throw new HubError('ArgumentInvalid', `The deviceId in the body ('${String(input.deviceId)}') does not match the one in the path ('${deviceId}').`);
    }
    const match = ifMatch(req);
    // Without If-Match a PUT creates (409 if the id is taken); with it, it updates (docs/protocol.md §3.1).
    const record = match === undefined ? registry.create({ ...input, deviceId }) : registry.update({ ...input, deviceId }, match);
    res.json(deviceJson(record));
  });

  router.delete('/devices/:id', write, (req, res) => {
    registry.delete(param(req, 'id'), ifMatch(req));
    res.status(204).end();
  });

  return router;
}
