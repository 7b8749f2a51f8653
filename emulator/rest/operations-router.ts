import { Router, type Request } from 'express';
import { HubError } from '../errors.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import type { HubMetrics } from '../operations/metrics.js';
import { entryKinds, type EntryKind } from '../operations/recorded-entry.js';
import type { Recording, RecordingFilter } from '../operations/recording.js';
import type { ResetResult } from '../operations/reset.js';
import { requires } from './authorization.js';
import { sendEventStream } from './event-stream.js';

/** IoT Hub has no path starting with `$emulator`, so these can never shadow a real API. */
export const EMULATOR_PREFIX = '/$emulator';

export interface OperationsRouterDependencies {
  auth: ServiceAuthenticator;
  recording: Recording;
  metrics: HubMetrics;
  reset(): Promise<ResetResult>;
}

/**
 * The emulator's own API for tests and operators: the recording, the live event stream, reset,
 * and Prometheus metrics. Reading needs a ServiceConnect SAS (the `service` or `iothubowner`
 * policy); reset deletes devices, so it needs RegistryWrite. /metrics is open like /health.
 */
export function operationsRouter(deps: OperationsRouterDependencies): Router {
  const router = Router();
  const observe = requires(deps.auth, 'ServiceConnect');

  router.get('/metrics', async (_req, res) => {
    res.set('content-type', deps.metrics.contentType).send(await deps.metrics.text());
  });

  router.get(`${EMULATOR_PREFIX}/recording`, observe, (req, res) => {
    const entries = deps.recording.entries(filterFrom(req));
    res.json({ entries, lastSeq: deps.recording.lastSeq, ...deps.recording.stats() });
  });

  router.delete(`${EMULATOR_PREFIX}/recording`, observe, (_req, res) => {
    deps.recording.clear();
    res.status(204).end();
  });

  router.get(`${EMULATOR_PREFIX}/events`, observe, (req, res) => {
    sendEventStream(req, res, deps.recording, filterFrom(req));
  });

  router.post(`${EMULATOR_PREFIX}/reset`, requires(deps.auth, 'RegistryWrite'), async (_req, res) => {
    res.json(await deps.reset());
  });

  return router;
}

/** `?deviceId=…&kind=telemetry,method&since=42` (kind may also repeat). */
function filterFrom(req: Request): RecordingFilter {
  const filter: RecordingFilter = {};
  const deviceId = single(req.query.deviceId, 'deviceId');
  if (deviceId !== undefined) filter.deviceId = deviceId;
  const kindParam = req.query.kind;
  if (kindParam !== undefined) {
    const kinds = (Array.isArray(kindParam) ? kindParam : [kindParam])
      .flatMap((k) => String(k).split(','))
      .map((k) => k.trim())
      .filter(Boolean);
    for (const kind of kinds) {
      if (!entryKinds.includes(kind as EntryKind)) throw new HubError('ArgumentInvalid', `Unknown kind '${kind}': use ${entryKinds.join(', ')}.`);
    }
    filter.kind = kinds as EntryKind[];
  }
  const since = single(req.query.since, 'since');
  if (since !== undefined) {
    const n = Number(since);
    if (!Number.isInteger(n) || n < 0) throw new HubError('ArgumentInvalid', `'since' must be a sequence number; got '${since}'.`);
    filter.since = n;
  }
  return filter;
}

function single(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new HubError('ArgumentInvalid', `'${name}' may be given once.`);
  return String(value);
}
