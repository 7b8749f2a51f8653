import { Router, type Request } from 'express';
import { c2dLimits, isJsonObject, isoTime, moduleJson, readMethodCall, type ModuleRecord } from '../../emulator/index.js';
import { readC2dForm } from './c2d-form.js';
import type { DashboardDeps } from './deps.js';

/** What the device page lists of a module: the registry's Module JSON without its keys. */
export function moduleView(record: ModuleRecord): Record<string, unknown> {
  const { authentication, ...rest } = moduleJson(record);
  return { ...rest, authenticationType: (authentication as { type?: string }).type };
}

/**
 * The device page's cloud-to-device form and its modules: the C2D service as `Client.send` and
 * `DELETE /devices/{id}/commands` reach it, the registry's modules, module twins and module
 * methods as `/devices/{id}/modules/{mid}` and `/twins/{id}/modules/{mid}` call them. Refusals
 * go to the API's error handler in the hub's words (403 DeviceMaximumQueueDepthExceeded, 404
 * ModuleNotFound…).
 */
export function devicePartsRouter(deps: DashboardDeps): Router {
  const router = Router();
  const { registry, twins, methods, c2d } = deps;

  router.post('/devices/:id/messages', (req, res) => {
    const deviceId = param(req, 'id');
    const message = c2d.send(deviceId, readC2dForm(req.body));
    res.status(201).json({
      messageId: message.messageId?.value,
      ack: message.ack,
      enqueuedTimeUtc: isoTime(message.enqueuedMs),
      expiryTimeUtc: isoTime(message.expiresMs),
      pending: c2d.pending(deviceId),
      maxPending: c2dLimits.maxPendingPerDevice,
    });
  });

  router.delete('/devices/:id/messages', (req, res) => {
    const deviceId = param(req, 'id');
    res.json({ totalMessagesPurged: c2d.purge(deviceId), deviceId, pending: c2d.pending(deviceId) });
  });

  router.get('/devices/:id/modules', (req, res) => {
    res.json(registry.modulesOf(param(req, 'id')).map(moduleView));
  });

  // As `Registry.addModule` does: keys generated, 409 when taken, 413 past 50 on the device.
  router.post('/devices/:id/modules', (req, res) => {
    const body = isJsonObject(req.body) ? req.body : {};
    const record = registry.createModule(param(req, 'id'), { moduleId: body.moduleId, managedBy: body.managedBy });
    res.status(201).json(moduleView(record));
  });

  router.delete('/devices/:id/modules/:mid', (req, res) => {
    registry.deleteModule(param(req, 'id'), param(req, 'mid'), undefined);
    res.status(204).end();
  });

  router.get('/devices/:id/modules/:mid', (req, res) => {
    const deviceId = param(req, 'id');
    const moduleId = param(req, 'mid');
    const record = registry.getModule(deviceId, moduleId);
    res.json({
      module: moduleView(record),
      twin: twins.get(deviceId, moduleId),
      connectionString: record.authentication.type === 'sas' ? deps.moduleConnectionString(deviceId, moduleId) : undefined,
    });
  });

  router.patch('/devices/:id/modules/:mid/twin', (req, res) => {
    const body = isJsonObject(req.body) ? req.body : {};
    const { etag, patch } = body;
    res.json(twins.update(param(req, 'id'), patch, typeof etag === 'string' && etag !== '' ? etag : undefined, param(req, 'mid')));
  });

  router.post('/devices/:id/modules/:mid/methods', async (req, res) => {
    const call = readMethodCall(req.body);
    const started = performance.now();
    const result = await methods.invoke(param(req, 'id'), call, param(req, 'mid'));
    res.json({ ...result, latencyMs: performance.now() - started });
  });

  return router;
}

function param(req: Request, name: string): string {
  const value = req.params[name];
  return Array.isArray(value) ? value.join('/') : String(value);
}
