import express from 'express';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiRouter } from './api-router.js';
import type { DashboardDeps } from './deps.js';
import { HubSampler } from './hub-sampler.js';
import { LiveUpdates } from './live-updates.js';
import { requestGuard } from './request-guard.js';
import { throttlingView } from './throttle-counts.js';

export interface DashboardOptions {
  /** the loopback address to bind (the hub's --host) */
  host: string;
  /** 0 picks a free port (the CLI's --dashboard-port 0 means "off" and never calls this) */
  port: number;
  /** where the built page is; default: dist/dashboard/web beside this file */
  assetsDir?: string;
}

export interface Dashboard {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** The dashboard's port unless --dashboard-port says otherwise (nothing else of the emulator's uses it). */
export { DEFAULT_DASHBOARD_PORT } from '../../emulator/index.js';

// Compiled, this file is dist/dashboard/server/ and the page dist/dashboard/web/; run from source
// (tsx, tests) it is dashboard/server/ and the built page is still under dist/.
const here = path.dirname(fileURLToPath(import.meta.url));
const defaultAssets = existsSync(path.resolve(here, '../web/assets')) ? path.resolve(here, '../web') : path.resolve(here, '../../dist/dashboard/web');

/**
 * The dashboard's own plain-HTTP listener: the built page (static files) and its JSON API and
 * live stream, calling the hub's services in-process. Plain HTTP on loopback, because browsers do
 * not trust the emulator's CA the way Node does through NODE_EXTRA_CA_CERTS.
 */
export async function startDashboard(deps: DashboardDeps, options: DashboardOptions): Promise<Dashboard> {
  const sampler = new HubSampler({
    events: deps.events,
    registered: () => deps.registry.count(),
    connected: () => deps.connections.count,
    scheduler: deps.scheduler,
  });
  const live = new LiveUpdates({
    events: deps.events,
    recording: deps.recording,
    registry: deps.registry,
    scheduler: deps.scheduler,
    sampler,
    faults: deps.faults,
    throttled: () => throttlingView(deps),
    tier: deps.throttle !== undefined,
    connected: () => deps.connections.count,
  });
  const assetsDir = options.assetsDir ?? defaultAssets;
  const hostPart = options.host.includes(':') ? `[${options.host}]` : options.host;
  const allowedNames = new Set(['localhost', '127.0.0.1', '[::1]', hostPart, deps.hostName].map((h) => h.toLowerCase()));

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(requestGuard(allowedNames));
  app.use('/api', apiRouter(deps, sampler, live));
  if (existsSync(path.join(assetsDir, 'index.html'))) {
    // Hashed file names under assets/ never change; index.html always is fetched anew.
    app.use('/assets', express.static(path.join(assetsDir, 'assets'), { immutable: true, maxAge: '365d', fallthrough: false }));
    app.use(express.static(assetsDir, { index: false, maxAge: 0 }));
    app.get(/.*/, (_req, res) => res.sendFile(path.join(assetsDir, 'index.html'), { headers: { 'cache-control': 'no-cache' } }));
  } else {
    app.get(/.*/, (_req, res) => {
      res.status(503).type('text/plain').send(`The dashboard's page is not built (${assetsDir} has no index.html): run npm run build.`);
    });
  }

  const server = http.createServer(app);
  const port = await new Promise<number>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const hint = error.code === 'EADDRINUSE' ? ' (another process is listening there: pick another --dashboard-port, or 0 to turn the dashboard off)' : '';
      reject(new Error(`Cannot listen for the dashboard on ${options.host}:${options.port}: ${error.message}${hint}`));
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
  // The address a person types: the hub's name when bound to 127.0.0.1 or every address (a container).
  const urlHost = ['127.0.0.1', '0.0.0.0', '::'].includes(options.host) ? deps.hostName : hostPart;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        live.close();
        sampler.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}
