import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../cli/main.js');

export interface EmulatorProcess {
  host: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Runs the built emulator as its own process (as users run it), on a loopback address, sharing the
 * bench's CA directory so this process already trusts it. Waits for /health.
 */
export async function startEmulatorProcess(host: string, certDir: string, extraArgs: string[] = []): Promise<EmulatorProcess> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-bench-'));
  // IOTHUB_EMULATOR_BENCH_NODE_ARGS passes Node flags to the emulator (e.g. --cpu-prof to profile it).
  const nodeArgs = (process.env.IOTHUB_EMULATOR_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // IOTHUB_EMULATOR_BENCH_ON_DISK=1 runs a bench's in-memory emulator on its data directory instead (writes through to the WAL).
  const onDisk = process.env.IOTHUB_EMULATOR_BENCH_ON_DISK === '1' ? ['--in-memory', 'false'] : [];
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      cli,
      'start',
      '--host',
      host,
      '--hostname',
      host,
      '--data-dir',
      dataDir,
      '--in-memory',
      '--log-level',
      'warn',
      '--log-format',
      'json',
      ...onDisk,
      ...extraArgs,
    ],
    {
      env: { ...process.env, IOTHUB_EMULATOR_CERT_DIR: certDir },
      stdio: emulatorStdio(),
    },
  );
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the emulator exited with code ${child.exitCode}`);
    if (await healthy(host)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    process: child,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Whether an emulator on `host` answers GET /health with 200 within a second. */
export function healthy(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get({ host, port: 443, path: '/health', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

/**
 * The emulator's stdio in a bench: its stdout dropped, or appended to IOTHUB_EMULATOR_BENCH_STDOUT
 * (e.g. with --trace-gc in its Node flags). Appended, so a bench that starts the emulator again
 * (a restart) does not overwrite what the first one wrote.
 */
export function emulatorStdio(): ['ignore', 'ignore' | number, 'inherit'] {
  const file = process.env.IOTHUB_EMULATOR_BENCH_STDOUT;
  return ['ignore', file ? openSync(file, 'a') : 'ignore', 'inherit'];
}
