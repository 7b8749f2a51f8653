import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DeviceHost, FleetPart, FromWorker, ToWorker } from './device-host.js';
import { emptyCounters, FleetStats, type StatsSnapshot } from './fleet-stats.js';

const STOP_TIMEOUT_MS = 60_000;

/**
 * Devices in a child process: one process holds at most ~20,000 sockets here (ulimit -n), and a
 * second process also uses a second core.
 */
export class WorkerHost implements DeviceHost {
  private readonly child: ChildProcess;
  private latest: StatsSnapshot;
  private readonly started: Promise<void>;
  private readonly exited: Promise<void>;
  private final: StatsSnapshot | undefined;

  constructor(part: FleetPart, env: NodeJS.ProcessEnv) {
    const here = fileURLToPath(import.meta.url);
    const extension = path.extname(here);
    const entry = path.join(path.dirname(here), `worker-process${extension}`);
    // Run from sources (tests, `node --import tsx`), the worker needs the same TypeScript loader.
    const execArgv = extension === '.ts' ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [];
    this.child = fork(entry, [], { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    // Until the worker's first report: nothing connected yet, but the devices count already.
    const nothingYet = new FleetStats().snapshot();
    this.latest = { ...nothingYet, counters: { ...emptyCounters(), devices: part.range.end - part.range.start } };

    let resolveStarted!: () => void;
    let rejectStarted!: (error: Error) => void;
    this.started = new Promise((resolve, reject) => {
      resolveStarted = resolve;
      rejectStarted = reject;
    });
    this.started.catch(() => {});
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));

    this.child.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'stats':
          this.latest = message.snapshot;
          break;
        case 'started':
          resolveStarted();
          break;
        case 'stopped':
          this.final = message.snapshot;
          this.latest = message.snapshot;
          break;
        case 'failed':
          rejectStarted(new Error(`worker ${this.child.pid}: ${message.message}`));
          break;
      }
    });
    this.child.once('exit', (code, signal) => {
      const how = signal ?? `code ${code}`;
      rejectStarted(new Error(`worker ${this.child.pid} exited (${how}) before its devices were up`));
      if (this.final) return;
      // Died while running: its devices are gone, whatever its last report said.
      const { counters, recentErrors } = this.latest;
      this.latest = {
        ...this.latest,
        counters: { ...counters, connected: 0, connectionsLost: counters.connectionsLost + counters.connected },
        recentErrors: [...recentErrors, `worker ${this.child.pid} exited (${how})`],
      };
    });
    this.post({ type: 'start', part });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  start(): Promise<void> {
    return this.started;
  }

  snapshot(): StatsSnapshot {
    return this.latest;
  }

  async stop(): Promise<StatsSnapshot> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.post({ type: 'stop' });
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    }
    return this.final ?? this.latest;
  }

  private post(message: ToWorker): void {
    if (this.child.connected) this.child.send(message);
  }
}
