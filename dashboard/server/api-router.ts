import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { CLOCK_MAX_OFFSET_SECONDS, DASHBOARD_MAX_JOB_DEVICE_ROWS, deviceJson, HubError, isJsonObject, isoTime, readMethodCall } from '../../emulator/index.js';
import type { DashboardDeps } from './deps.js';
import { devicePartsRouter, moduleView } from './device-parts-router.js';
import { devicePage, type DeviceFilter } from './device-rows.js';
import type { HubSampler } from './hub-sampler.js';
import type { LiveUpdates } from './live-updates.js';
import { runDashboardQuery } from './query-runner.js';
import { throttlingView } from './throttle-counts.js';

/** Entries of each kind the device page starts with, from the hub's recording. */
const RECENT_ENTRIES = 50;

/**
 * The dashboard's JSON API under /api. Every call goes to the same service method the hub's
 * REST API calls, so what the page shows (and refuses) is what an SDK would see; refusals come
 * back as `{status, errorCode, message}` with the hub's own code and words.
 */
export function apiRouter(deps: DashboardDeps, sampler: HubSampler, live: LiveUpdates): Router {
  const router = Router();
  const { registry, twins, methods, scheduler, clock, recording } = deps;
  router.use(express.json({ limit: '1mb' }));

  router.get('/hub', (_req, res) => {
    res.json({
      hostName: deps.hostName,
      connectionString: deps.connectionString(),
      clock: clockView(deps),
      now: sampler.now(),
      history: sampler.history(),
      statistics: registry.statistics(),
    });
  });

  router.post('/clock/advance', (req, res) => {
    const seconds = isJsonObject(req.body) ? req.body.seconds : undefined;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
      throw new HubError('ArgumentInvalid', 'Give a number of seconds ≥ 0; the clock only moves forward.');
    }
    if ((clock.offset + seconds * 1000) / 1000 > CLOCK_MAX_OFFSET_SECONDS) {
      throw new HubError('ArgumentInvalid', `The clock can run at most ${CLOCK_MAX_OFFSET_SECONDS} seconds (100 years) ahead of real time.`);
    }
    clock.advance(seconds * 1000);
    res.json(clockView(deps));
  });

  router.get('/devices', (req, res) => {
    const filter: DeviceFilter = {
      text: text(req.query.q),
      status: oneOf(req.query.status, ['enabled', 'disabled'] as const),
      connection: oneOf(req.query.connection, ['Connected', 'Disconnected'] as const),
    };
    const started = performance.now();
    const page = devicePage(registry, filter, int(req.query.offset, 0), int(req.query.limit, 50));
    // What the registry pass cost, for the browser's timing (and bench/dashboard.ts).
    res.set('server-timing', `registry;dur=${(performance.now() - started).toFixed(2)}`).json(page);
  });

  router.post('/devices', (req, res) => {
    const body = isJsonObject(req.body) ? req.body : {};
    const record = registry.create({ deviceId: body.deviceId, status: body.status });
    res.status(201).json(deviceJson(record));
  });

  router.get('/devices/:id', (req, res) => {
    const deviceId = param(req);
    const record = registry.get(deviceId);
    const last = <T>(entries: T[]): T[] => entries.slice(-RECENT_ENTRIES);
    res.json({
      device: deviceJson(record),
      twin: twins.get(deviceId),
      connectionString: record.authentication.type === 'sas' ? deps.deviceConnectionString(deviceId) : undefined,
      modules: registry.modulesOf(deviceId).map(moduleView),
      c2dPending: deps.c2d.pending(deviceId),
      entries: [
        ...last(recording.telemetry({ deviceId })),
        ...last(recording.connections({ deviceId })),
        ...last(recording.methodCalls({ deviceId })),
        ...last(recording.twinPatches({ deviceId })),
        ...last(recording.entries({ kind: 'c2d', deviceId })),
      ].sort((a, b) => a.seq - b.seq),
    });
  });

  router.get('/devices/:id/connection-string', (req, res) => {
    const deviceId = param(req);
    const record = registry.get(deviceId);
    if (record.authentication.type !== 'sas') throw new HubError('ArgumentInvalid', `Device ${deviceId} does not authenticate with symmetric keys.`);
    res.json({ connectionString: deps.deviceConnectionString(deviceId) });
  });

  // Enable or disable: the registry's own update, so a device disabled while connected is dropped.
  router.patch('/devices/:id', (req, res) => {
    const body = isJsonObject(req.body) ? req.body : {};
    const record = registry.update(
      { deviceId: param(req), status: body.status, statusReason: body.statusReason },
      typeof body.etag === 'string' ? body.etag : undefined,
    );
    res.json(deviceJson(record));
  });

  router.delete('/devices/:id', (req, res) => {
    registry.delete(param(req), undefined);
    res.status(204).end();
  });

  // The patch as the service SDK's updateTwin sends it; `etag` becomes If-Match, so an edit made on
  // a twin that changed meanwhile is refused as the hub refuses it (412).
  router.patch('/devices/:id/twin', (req, res) => {
    const body = isJsonObject(req.body) ? req.body : {};
    const { etag, patch } = body;
    res.json(twins.update(param(req), patch, typeof etag === 'string' && etag !== '' ? etag : undefined));
  });

  router.post('/devices/:id/methods', async (req, res) => {
    const call = readMethodCall(req.body);
    const started = performance.now();
    const result = await methods.invoke(param(req), call);
    res.json({ ...result, latencyMs: performance.now() - started });
  });

  router.get('/jobs', (_req, res) => {
    res.json(scheduler.list(undefined, undefined).jobs);
  });

  router.put('/jobs/:id', (req, res) => {
    res.json(scheduler.create(param(req), req.body));
  });

  router.post('/jobs/:id/cancel', (req, res) => {
    res.json(scheduler.cancel(param(req)));
  });

  router.get('/jobs/:id/devices', (req, res) => {
    const jobId = param(req);
    scheduler.get(jobId); // 404 JobNotFound for an unknown job
    const rows: object[] = [];
    let total = 0;
    for (const { record } of scheduler.deviceJobs()) {
      if ((record as { jobId?: string }).jobId !== jobId) continue;
      total++;
      if (rows.length < DASHBOARD_MAX_JOB_DEVICE_ROWS) rows.push(record);
    }
    res.json({ total, rows });
  });

  // The chaos API (as /$emulator/faults) and the tier in force (as /$emulator/throttling).
  router.get('/faults', async (_req, res) => {
    const throttle = deps.throttle;
    const throttling = throttle
      ? {
          tier: throttle.profile.tier,
          units: throttle.profile.units,
          ratesPerSecond: throttle.profile.rates,
          maxActiveJobs: throttle.profile.maxActiveJobs,
          dailyMessages: throttle.profile.dailyMessages,
          meterBytes: throttle.profile.meterBytes,
          quota: throttle.quota,
        }
      : { tier: null };
    res.json({ rules: deps.faults.list(), throttling, throttled: await throttlingView(deps) });
  });

  router.post('/faults', (req, res) => {
    const { rule, affected } = deps.faults.add(req.body);
    res.status(201).json(affected ? { ...rule, affected } : rule);
  });

  router.delete('/faults/:id', (req, res) => {
    if (!deps.faults.remove(param(req))) throw new HubError('NotFound', `No fault rule with id '${param(req)}'.`);
    res.status(204).end();
  });

  router.delete('/faults', (_req, res) => {
    deps.faults.clear();
    res.status(204).end();
  });

  router.post('/query', (req, res) => {
    res.json(runDashboardQuery(isJsonObject(req.body) ? req.body.query : undefined, deps.selection, scheduler));
  });

  router.use(devicePartsRouter(deps));

  router.get('/live', (req, res) => {
    live.open(req, res, new URL(req.originalUrl, 'http://dashboard').searchParams);
  });

  router.use((_req: Request, _res: Response, next: NextFunction) => next(new HubError('NotFound', 'No such dashboard API.')));
  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof HubError) {
      res
        .status(error.status)
        .json({ status: error.status, errorCode: error.errorName, code: error.code, message: error.message, ...(error.info && { info: error.info }) });
      return;
    }
    const parserError = error as { type?: string; status?: number };
    if (parserError?.status && parserError.status >= 400 && parserError.status < 500) {
      res
        .status(400)
        .json({ status: 400, errorCode: 'ArgumentInvalid', message: `The request body could not be read (${parserError.type ?? 'bad request'}).` });
      return;
    }
    deps.log.error({ err: error }, 'unexpected error in the dashboard API');
    res.status(500).json({ status: 500, errorCode: 'ServerError', message: 'An internal error occurred in the emulator.' });
  });
  return router;
}

function clockView(deps: DashboardDeps): { now: string; offsetSeconds: number } {
  return { now: isoTime(deps.clock.now()), offsetSeconds: deps.clock.offset / 1000 };
}

function param(req: Request): string {
  const value = req.params.id;
  return Array.isArray(value) ? value.join('/') : String(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function int(value: unknown, fallback: number): number {
  const n = typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(n) && n >= 0 ? n : fallback;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T | undefined {
  return allowed.find((a) => a === value);
}
