import { spawn, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onFreeLoopbackAddress } from '../../emulator/testing/loopback-address.js';
import { waitUntil } from './wait.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs the CLI from source (through tsx) as a user would run the built one. */
export function runCli(args: string[], env: Record<string, string> = {}): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli/main.ts'), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return Object.assign(child, { output: () => output });
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
