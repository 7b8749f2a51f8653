import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { onFreeLoopbackAddress } from '../../emulator/testing/loopback-address.js';
import { waitUntil } from './wait.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);

/** Runs the CLI from source (through tsx) as a user would run the built one. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  cwd = root,
): ChildProcess & { output: () => string; stdout: NodeJS.ReadableStream; stdoutText: () => string } {
  // tsx is resolved from the repository, so the CLI can run in any folder (cwd) as an installed one does.
  const child = spawn(process.execPath, ['--import', pathToFileURL(require.resolve('tsx')).href, path.join(root, 'cli/main.ts'), ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return captured(child);
}

/**
 * Runs the built CLI (dist/, as `npm install -g` installs it): half the start-up CPU of tsx, for
 * tests that run it many times. `npm test` builds first; run `npm run build` before such a file alone.
 */
export function runBuiltCli(args: string[], env: Record<string, string> = {}, cwd = root): ReturnType<typeof runCli> {
  const cli = path.join(root, 'dist/cli/main.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: npm run build`);
  return captured(spawn(process.execPath, [cli, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

type CliChild = ReturnType<typeof runCli>;

/** The child with what it wrote: stdout and stderr as they interleaved (output), and stdout alone. */
function captured(child: ChildProcess): CliChild {
  let output = '';
  let stdout = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => (output += chunk));
  return Object.assign(child, { output: () => output, stdoutText: () => stdout }) as CliChild;
}

/**
 * Nothing from the test runner's environment but IOTHUB_EMULATOR_CA_DIR (the test CA): no
 * NODE_EXTRA_CA_CERTS, so the commands trust the emulator through its CA directory alone, and no
 * IOTHUB_CONNECTION_STRING, so they find it by --host.
 */
export const CLIENT_ENV = { IOTHUB_CONNECTION_STRING: '', NODE_EXTRA_CA_CERTS: '' };

/**
 * A client command of the built CLI (device, twin, fault…) run to its end as a user runs it against
 * a running emulator: from `folder`, with --host `host()` appended and CLIENT_ENV.
 */
export function clientCommand(folder: string, host: () => string): (...args: string[]) => Promise<{ code: number | null; out: string; stdout: string }> {
  return async (...args) => {
    const child = runBuiltCli([...args, '--host', host()], CLIENT_ENV, folder);
    const code = await exited(child, 30_000);
    return { code, out: child.output(), stdout: child.stdoutText() };
  };
}

/**
 * `start`'s flags for a test's own emulator: listening on and named after `host`, keeping `dataDir`,
 * serving the tests' certificates (global-setup.ts) and logging at `logLevel`.
 */
export function startArgs(host: string, dataDir: string, options: { inMemory?: boolean; logLevel?: string } = {}): string[] {
  const store = options.inMemory ? ['--in-memory', '--data-dir', dataDir] : ['--data-dir', dataDir];
  return ['--host', host, '--hostname', host, ...store, '--cert-dir', process.env.IOTHUB_EMULATOR_TEST_CERT_DIR!, '--log-level', options.logLevel ?? 'warn'];
}

export function exited(child: ChildProcess, timeoutMs = 20_000): Promise<number | null> {
  // A child ended by a signal (kill -9) has signalCode set and exitCode null.
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the process did not exit')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

export async function waitForHealth(host: string, timeoutMs = 20_000): Promise<void> {
  const healthy = (): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      https
        .get({ host, port: 443, path: '/health', timeout: 1000 }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        })
        .on('error', () => resolve(false));
    });
  await waitUntil(healthy, timeoutMs, `a healthy emulator on ${host}`, 100);
}

/**
 * Starts `iothub-emulator start …` on a loopback address no other test holds (picked as
 * startEmulator() picks one, emulator/testing/loopback-address.ts), and resolves once this child
 * itself says it is listening. (A /health probe alone could be answered by another test's hub on
 * the same address while this child exits with EADDRINUSE.)
 */
export async function startEmulatorCli(
  args: (host: string) => string[],
  options: { host?: string; env?: Record<string, string> } = {},
): Promise<{ child: ReturnType<typeof runCli>; host: string }> {
  const start = async (host: string): Promise<{ child: ReturnType<typeof runCli>; host: string }> => {
    const child = runCli(['start', ...args(host)], options.env);
    const outcome = await new Promise<'listening' | 'exited'>((resolve) => {
      const check = (): void => {
        if (child.output().includes(`is listening on ${host}`)) resolve('listening');
      };
      child.stdout!.on('data', check);
      child.once('exit', () => resolve('exited'));
      check();
    });
    if (outcome === 'listening') return { child, host };
    // The output names EADDRINUSE when the address is taken, which makes the picker try another.
    throw new Error(`the emulator did not start: ${child.output()}`);
  };
  return options.host ? start(options.host) : onFreeLoopbackAddress(start);
}
