import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { onFreeLoopbackAddress } from '../emulator/testing/loopback-address.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-pack-'));
// The installed tree is some 400 packages: removing it takes a while on a busy machine.
afterAll(() => rm(work, { recursive: true, force: true }), 180_000);

/**
 * What `npm install -g iothub-emulator-<version>.tgz` gives a user: the packed package installed
 * into an empty folder, then its own `iothub-emulator` started and called from that folder.
 *
 * Offline (no registry here): the folder gets a lockfile with the repository's production
 * dependencies, which npm then takes from its cache, and install scripts are skipped, so
 * better-sqlite3's native addon (which prebuild-install downloads on a machine with network, or
 * node-gyp compiles in minutes) is copied from this repository's build for this same Node.
 */
describe('the packed package', () => {
  it('installs into an empty folder and runs from there: --version, start, device create', async () => {
    if (!existsSync(path.join(root, 'dist/cli/main.js'))) throw new Error('dist/ is missing: npm run build');
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    const { stdout: packed } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root });
    const tarball = (JSON.parse(packed) as { filename: string }[])[0]!.filename;
    const app = path.join(work, 'app');
    mkdirSync(app);
    writeOfflineProject(app, path.join(work, tarball), pkg);
    await run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app, timeout: 120_000 });
    const addon = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
    mkdirSync(path.dirname(path.join(app, addon)), { recursive: true });
    copyFileSync(path.join(root, addon), path.join(app, addon));

    const bin = path.join(app, 'node_modules/.bin/iothub-emulator');
    const { NODE_EXTRA_CA_CERTS: _ignored, ...env } = process.env;
    const { stdout: version } = await run(bin, ['--version'], { cwd: app, env });
    expect(version.trim()).toBe(pkg.version);

    const emulator = await onFreeLoopbackAddress((host) => startInstalled(bin, app, host, env));
    try {
      const { stdout: created } = await run(bin, ['device', 'create', 'packed-1', '--host', emulator.host], { cwd: app, env });
      expect(JSON.parse(created)).toMatchObject({ deviceId: 'packed-1', status: 'enabled' });
      const { stdout: connection } = await run(bin, ['device', 'connection-string', 'packed-1', '--host', emulator.host], { cwd: app, env });
      expect(connection.trim()).toMatch(new RegExp(`^HostName=${emulator.host.replace(/\./g, '\\.')};DeviceId=packed-1;SharedAccessKey=.+=$`));
    } finally {
      emulator.child.kill('SIGTERM');
      await new Promise((r) => emulator.child.once('exit', r));
    }
  }, 240_000);
});

/** package.json and a lockfile naming the tarball and the repository's production dependencies (for npm ci --offline). */
function writeOfflineProject(
  dir: string,
  tarball: string,
  pkg: { version: string; dependencies: Record<string, string>; engines: object; bin: object; license: string },
): void {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const packages: Record<string, unknown> = {
    '': { name: 'packed-app', dependencies: { 'iothub-emulator': `file:${tarball}` } },
    'node_modules/iothub-emulator': {
      version: pkg.version,
      resolved: `file:${tarball}`,
      dependencies: pkg.dependencies,
      engines: pkg.engines,
      bin: pkg.bin,
      license: pkg.license,
    },
  };
  for (const [key, entry] of Object.entries(lock.packages)) if (key.startsWith('node_modules/') && !entry.dev) packages[key] = entry;
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'packed-app', private: true, dependencies: { 'iothub-emulator': `file:${tarball}` } }));
  writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify({ name: 'packed-app', lockfileVersion: 3, requires: true, packages }));
}

function startInstalled(bin: string, cwd: string, host: string, env: NodeJS.ProcessEnv): Promise<{ child: ReturnType<typeof spawn>; host: string }> {
  const child = spawn(bin, ['start', '--host', host, '--data-dir', path.join(work, `data-${host}`), '--log-level', 'warn'], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', () => {
      if (output.includes(`is listening on ${host}`)) resolve({ child, host });
    });
    child.once('exit', () => reject(new Error(output)));
  });
}
