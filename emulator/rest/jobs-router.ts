import { Router } from 'express';
import type { ServiceAuthenticator } from '../identity/auth.js';
import type { JobsApi } from '../jobs-api.js';
import { sliceArray } from '../selection/paging.js';
import { requires } from './authorization.js';
import { readPageRequest, sendPage } from './query-router.js';
import { jsonBody, param } from './request.js';

/** Jobs v2 (docs/protocol.md §3.6): schedule, read, cancel and list device-method and twin-update jobs. */
export function jobsRouter(auth: ServiceAuthenticator, jobs: JobsApi): Router {
  const router = Router();
  // EMULATOR CHOICE (docs/protocol.md §3.6, §8.16): scheduling and cancelling take ServiceConnect or
  // RegistryWrite (iothubowner, service, registryReadWrite); reading jobs also accepts RegistryRead,
  // which can already read the same device-job records through /devices/query.
  const write = requires(auth, 'ServiceConnect', 'RegistryWrite');
  const read = requires(auth, 'ServiceConnect', 'RegistryWrite', 'RegistryRead');

  // Registered before /jobs/v2/:id, which would otherwise take "query" for a job id.
  router.get('/jobs/v2/query', read, (req, res) => {
    const { jobs: list, filterKey } = jobs.list(req.query.jobType, req.query.jobStatus);
    const page = readPageRequest(req, filterKey);
    sendPage(res, 'JobResponse', sliceArray(list, page), page);
  });

  router.put('/jobs/v2/:id', write, (req, res) => {
    res.json(jobs.create(param(req, 'id'), jsonBody(req)));
  });

  router.get('/jobs/v2/:id', read, (req, res) => {
    res.json(jobs.get(param(req, 'id')));
  });

  router.post('/jobs/v2/:id/cancel', write, (req, res) => {
    res.json(jobs.cancel(param(req, 'id')));
  });

  return router;
}
