import { Router } from 'express';
import { HubError } from '../errors.js';
import type { FaultInjector } from '../faults/fault-injector.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import type { HubThrottle } from '../throttle/hub-throttle.js';
import { requires } from './authorization.js';

/**
 * The chaos API (docs/protocol.md "Throttling and faults"): `POST /$emulator/faults` adds a rule,
 * `GET` lists them, `DELETE /$emulator/faults/{id}` (or all) removes them; plus
 * `GET /$emulator/throttling`, the tier in force and the day's quota. A ServiceConnect policy may
 * use it, as it may invoke methods: both change what devices see.
 */
export function faultsRouter(auth: ServiceAuthenticator, faults: FaultInjector, throttle: HubThrottle | undefined): Router {
  const router = Router();
  const allowed = requires(auth, 'ServiceConnect');

  router.get('/$emulator/faults', allowed, (_req, res) => {
    res.json({ rules: faults.list() });
  });

  router.post('/$emulator/faults', allowed, (req, res) => {
    const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new HubError('ArgumentInvalid', 'A fault rule must be a JSON object.');
    }
    const { rule, affected } = faults.add(body);
    res.status(201).json(affected ? { ...rule, affected } : rule);
  });

  router.get('/$emulator/faults/:id', allowed, (req, res) => {
    const rule = faults.get(String(req.params.id));
    if (!rule) throw new HubError('NotFound', `No fault rule with id '${req.params.id}'.`);
    res.json(rule);
  });

  router.delete('/$emulator/faults/:id', allowed, (req, res) => {
    if (!faults.remove(String(req.params.id))) throw new HubError('NotFound', `No fault rule with id '${req.params.id}'.`);
    res.status(204).end();
  });

  router.delete('/$emulator/faults', allowed, (_req, res) => {
    faults.clear();
    res.status(204).end();
  });

  router.get('/$emulator/throttling', allowed, (_req, res) => {
    if (!throttle) return void res.json({ tier: null });
    const { tier, units, rates, maxActiveJobs, dailyMessages, meterBytes } = throttle.profile;
    res.json({ tier, units, ratesPerSecond: rates, maxActiveJobs, dailyMessages, meterBytes, quota: throttle.quota });
  });

  return router;
}
