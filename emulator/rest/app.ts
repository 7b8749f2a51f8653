import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { HubError } from '../errors.js';
import { errorHandler, sendHubError } from './error-envelope.js';
import { bodyReader } from './request-body.js';

/**
 * A router that only sees requests under one of `prefixes`: one precompiled, case-insensitive
 * test (express paths are case-insensitive too), where letting every request walk every router's
 * layers cost more than the handlers themselves.
 */
export function under(prefixes: readonly string[], router: RequestHandler): RequestHandler {
  const escaped = prefixes.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const match = new RegExp(`^(?:${escaped.join('|')})(?:/|$)`, 'i');
  return (req, res, next) => {
    if (match.test(req.path)) router(req, res, next);
    else next();
  };
}

export interface RestAppOptions {
  log: Logger;
  /** routers mounted in order, after the body parser */
  routers: RequestHandler[];
  isHealthy: () => boolean;
}

/** The HTTPS face: IoT Hub's service REST API plus the emulator's own /health. */
export function createRestApp(options: RestAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');

  app.get('/health', (_req, res) => {
    if (options.isHealthy()) res.json({ status: 'ok' });
    else res.status(503).json({ status: 'starting' });
  });

  // Bodies are read raw and parsed by the handlers, so malformed JSON gets the hub's envelope;
  // bounded by REST_BODY_LIMIT_BYTES (emulator/limits.ts), as on the direct-method route.
  app.use(bodyReader());
  for (const router of options.routers) app.use(router);

  app.use((req, res) => {
    sendHubError(res, new HubError('NotFound', `The emulator does not implement ${req.method} ${req.path}.`));
  });
  app.use(errorHandler(options.log));
  return app;
}
