import { Router } from 'express';
import { readJobFilter } from '../../scheduler/job-filter.js';
import type { Scheduler } from '../../scheduler/scheduler.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import { requires } from './authorization.js';
import { readPageRequest, sendPage, sliceArray } from './query-router.js';
import { jsonBody, param } from './request.js';

/** Jobs v2 (docs/protocol.md §3.6): schedule, read, cancel and list device-method and twin-update jobs. */
export function jobsRouter(auth: ServiceAuthenticator, scheduler: Scheduler): Router {
  const router = Router();
  // EMULATOR CHOICE (docs/protocol.md §3.6, §8.16): scheduling and cancelling take ServiceConnect or
  // RegistryWrite (iothubowner, service, registryReadWrite); reading jobs also accepts RegistryRead,
  // which can already read the same device-job records through /devices/query.
  const write = requires(auth, 'ServiceConnect', 'RegistryWrite');
  const read = requires(auth, 'ServiceConnect', 'RegistryWrite', 'RegistryRead');

  // Registered before /jobs/v2/:id, which would otherwise take "query" for a job id.
  router.get('/jobs/v2/query', read, (req, res) => {
    const filter = readJobFilter(req.query.jobType, req.query.jobStatus);
    const page = readPageRequest(req, `jobs?type=${filter.type ?? ''}&status=${filter.status ?? ''}`);
    sendPage(res, 'JobResponse', sliceArray(scheduler.list(filter), page), page);
  });

  router.put('/jobs/v2/:id', write, (req, res) => {
    res.json(scheduler.create(param(req, 'id'), jsonBody(req)));
  });

  router.get('/jobs/v2/:id', read, (req, res) => {
    res.json(scheduler.get(param(req, 'id')));
  });

  router.post('/jobs/v2/:id/cancel', write, (req, res) => {
    res.json(scheduler.cancel(param(req, 'id')));
  });

  return router;
}
