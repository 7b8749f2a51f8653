import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { onFreeLoopbackAddress } from '../emulator/testing/loopback-address.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `iothub-emulator start --demo-fleet 3` on a loopback address of its own; resolves once the instructions are out. */
function startDemo(host: string): Promise<{ child: ChildProcess; output: () => string }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fleet-demo-'));
  const args = [
    '--import',
    'tsx',
    path.join(root, 'cli/main.ts'),
    'start',
    '--host',
    host,
    '--hostname',
    host,
    '--in-memory',
    '--data-dir',
    dataDir,
    '--log-level',
    'warn',
    '--log-format',
    'json',
  ];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, IOTHUB_EMULATOR_DEMO_FLEET: '3', IOTHUB_EMULATOR_CERT_DIR: process.env.IOTHUB_EMULATOR_TEST_CERT_DIR ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no demo instructions:\n${output}`)), 25_000);
    child.stdout!.on('data', () => {
      if (/^EOF$/m.test(output)) {
        clearTimeout(timer);
        resolve({ child, output: () => output });
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(output));
    });
  });
}

/** The lines after `title`, up to the next blank line, as one shell script. */
function commandAfter(output: string, title: RegExp): string {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => title.test(l));
  expect(start).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && l.trim() === '');
  return lines.slice(start + 1, end).join('\n');
}

describe('npm start: the emulator with a demo fleet', () => {
  let demo: { child: ChildProcess; output: () => string } | undefined;
  afterAll(() => {
    demo?.child.kill('SIGTERM');
  });

  it('prints commands that, pasted into a shell, lock a door and run a job over the fleet', async () => {
    demo = await onFreeLoopbackAddress((host) => startDemo(host));
    const output = demo.output();
    expect(output).toMatch(/Demo fleet: 3 lockDoor devices connected \(demo-000000 … demo-000002\)/);
    // Pasted as printed; the shell has no NODE_EXTRA_CA_CERTS of its own.
    const { NODE_EXTRA_CA_CERTS: _ignored, ...env } = process.env;
    const run = (script: string) => spawnSync('bash', ['-c', script.replace(/^ {2}/gm, '')], { cwd: root, env, encoding: 'utf8', timeout: 20_000 });

    const curl = run(commandAfter(output, /^Lock demo-000000 with curl/));
    expect(curl.stderr).toBe('');
    expect(JSON.parse(curl.stdout)).toMatchObject({ status: 200, payload: { doorState: 'locked' } });

    const sdk = run(commandAfter(output, /^Or with the service SDK/));
    expect(sdk.stdout).toMatch(/status: 200/);
    expect(sdk.stdout).toMatch(/doorState: 'locked'/);

    const job = run(commandAfter(output, /^Lock every door with a scheduled job/));
    expect(job.stderr).toBe('');
    expect(job.stdout).toMatch(/^completed .*succeededCount: 3/s);
  });
});
