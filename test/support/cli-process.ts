import { spawn, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the process did not exit')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

export async function waitForHealth(host: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      https
        .get({ host, port: 443, path: '/health', timeout: 1000 }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        })
        .on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no healthy emulator on ${host}`);
}

/**
 * Starts `iothub-emulator start …` on a loopback address no other test holds, and resolves once
 * this child itself says it is listening. (A /health probe alone could be answered by another
 * test's hub on the same address while this child exits with EADDRINUSE.) Retries on a taken
 * address unless `host` is given.
 */
export async function startEmulatorCli(args: (host: string) => string[], options: { host?: string; env?: Record<string, string>; range?: [number, number] } = {}): Promise<{ child: ReturnType<typeof runCli>; host: string }> {
  const [low, high] = options.range ?? [2, 251];
  for (let attempt = 0; attempt < 20; attempt++) {
    const host = options.host ?? `127.0.0.${low + Math.floor(Math.random() * (high - low + 1))}`;
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
    if (options.host || !/EADDRINUSE/.test(child.output())) throw new Error(`the emulator did not start: ${child.output()}`);
  }
  throw new Error('no free loopback address');
}
