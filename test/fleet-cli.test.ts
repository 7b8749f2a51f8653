import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import iothub from 'azure-iothub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { deviceId } from '../fleet/device-range.js';
import type { FleetReport } from '../fleet/report.js';
import { startTestHub } from './support/hub-factory.js';
import { waitUntil } from './support/wait.js';

const { Client: ServiceClient, Registry } = iothub;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `iothub-emulator fleet …` from source, as a user runs the built one; NODE_EXTRA_CA_CERTS is not inherited. */
function fleetCli(args: string[], env: Record<string, string> = {}) {
  const { NODE_EXTRA_CA_CERTS: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli/main.ts'), 'fleet', ...args], {
    cwd: root,
    env: { ...inherited, IOTHUB_FLEET_PROGRESS: 'lines', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

/** A project folder whose node_modules holds this package as `npm install iothub-emulator` leaves it. */
function userProjectWithEmulatorInstalled(folder: string): string {
  mkdirSync(path.join(folder, 'node_modules', '.bin'), { recursive: true });
  writeFileSync(path.join(folder, 'package.json'), JSON.stringify({ name: 'user-project', private: true, devDependencies: { 'iothub-emulator': '*' } }));
  symlinkSync(root, path.join(folder, 'node_modules', 'iothub-emulator'), 'dir');
  const bin = path.join(root, 'dist', 'cli', 'main.js');
  symlinkSync(
    path.relative(path.join(folder, 'node_modules', '.bin'), path.join(folder, 'node_modules', 'iothub-emulator', 'dist', 'cli', 'main.js')),
    path.join(folder, 'node_modules', '.bin', 'iothub-emulator'),
  );
  chmodSync(bin, 0o755); // npm's bin-links does this on install; tsc writes the file without it
  return folder;
}

describe('iothub-emulator fleet', () => {
  let hub: Hub;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-cli-'));

  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('connects devices in a worker process, answers methods, and on Ctrl-C disconnects them and writes the report', async () => {
    const report = path.join(dir, 'report.json');
    const scenario = path.join(dir, 'scenario.yaml');
    writeFileSync(scenario, 'seed: 4\nmethods:\n  errorProbability: 0\n  latency: 5ms\n');
    const run = fleetCli(['--devices', '4', '--ca', hub.caPath, '--scenario', scenario, '--report', report, '--workers', '1'], {
      IOTHUB_CONNECTION_STRING: hub.connectionString(),
      IOTHUB_FLEET_PREFIX: 'cli-',
    });
    const registry = Registry.fromConnectionString(hub.connectionString());
    const service = ServiceClient.fromConnectionString(hub.connectionString());
    try {
      await waitUntil(() => /connected 4\/4/.test(run.output()), 20_000, 'four connected devices');
      const { result } = await service.invokeDeviceMethod(deviceId('cli-', 3, 4), { methodName: 'lockDoor', payload: {}, responseTimeoutInSeconds: 5 });
      expect(result.status).toBe(200);
    } finally {
      await service.close();
    }
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/SIGINT: disconnecting 4 devices/);
    const written = JSON.parse(readFileSync(report, 'utf8')) as FleetReport;
    expect(written).toMatchObject({ prefix: 'cli-', engine: 'light', seed: 4, workers: 1, devices: { fleet: 4, shard: 4 } });
    expect(written.connect).toMatchObject({ everConnected: 4, connectedAtStop: 4, failures: 0 });
    expect(written.methods).toMatchObject({ calls: 1, responses: 1, errorResponses: 0 });
    expect(written.methods.handlingOverheadMs.count).toBe(1);
    const states = await Promise.all([0, 1, 2, 3].map(async (i) => String((await registry.get(deviceId('cli-', i, 4))).responseBody.connectionState)));
    expect(states).toEqual(['Disconnected', 'Disconnected', 'Disconnected', 'Disconnected']);
  });

  it('stops by itself after --duration, with the sdk engine and a shard', async () => {
    const report = path.join(dir, 'shard.json');
    const run = fleetCli(
      ['--engine', 'sdk', '--devices', '6', '--shard', '2/3', '--duration', '1500ms', '--report', report, '--workers', '0', '--prefix', 'clishard-'],
      {
        IOTHUB_FLEET_CONNECTION_STRING: hub.connectionString(),
        IOTHUB_FLEET_CA: hub.caPath,
      },
    );
    expect(await run.exited).toBe(0);
    const written = JSON.parse(readFileSync(report, 'utf8')) as FleetReport;
    expect(written).toMatchObject({ shard: '2/3', engine: 'sdk', devices: { fleet: 6, shard: 2, firstIndex: 2, lastIndex: 3 } });
    expect(written.connect.everConnected).toBe(2);
    expect(run.output()).toMatch(/registered 2 devices clishard-000002 … clishard-000003/);
  });

  it('refuses (exit 7) a second fleet on the same ids while the first runs, and starts at once after it stopped', async () => {
    const env = { IOTHUB_CONNECTION_STRING: hub.connectionString(), IOTHUB_FLEET_PREFIX: 'dup-' };
    const first = fleetCli(['--devices', '2', '--ca', hub.caPath, '--workers', '0'], env);
    await waitUntil(() => /connected 2\/2/.test(first.output()), 20_000, 'the first fleet connected');
    const second = fleetCli(['--devices', '2', '--ca', hub.caPath, '--workers', '0'], env);
    expect(await second.exited).toBe(7);
    expect(second.output()).toMatch(
      /another running fleet already simulates dup-000000 … dup-000001 \(its lease device fleet-lease\.dup-1-of-1 is connected: fleet shard claimed by [^:]+:\d+ at /,
    );
    expect(second.output()).toMatch(/give this one another --prefix/);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    const third = fleetCli(['--devices', '2', '--ca', hub.caPath, '--workers', '0', '--duration', '300ms'], env);
    expect(await third.exited).toBe(0);
  });

  // npx runs the command as `sh -c …` in the terminal's process group, so one Ctrl-C reaches the
  // fleet twice: from the terminal, and forwarded by npm. With bash as the script shell (it hands
  // the exit code through) the fleet's own 0 is what npx returns; see docs/fleet.md for dash.
  // It runs in a user's project with the emulator installed (node_modules/.bin), as users run it:
  // in this repository's own root npx would install the package into its cache first, and that
  // runs `prepare` (a whole build, rewriting dist/ under the other test files) before the fleet.
  it('exits 0 after one Ctrl-C to the whole process group under npx', async () => {
    const { NODE_EXTRA_CA_CERTS: _ignored, ...inherited } = process.env;
    const project = userProjectWithEmulatorInstalled(path.join(dir, 'npx-project'));
    const child = spawn('npx', ['iothub-emulator', 'fleet', '--devices', '2', '--prefix', 'npx-', '--workers', '0', '--ca', hub.caPath], {
      cwd: project,
      detached: true,
      env: { ...inherited, IOTHUB_CONNECTION_STRING: hub.connectionString(), IOTHUB_FLEET_PROGRESS: 'lines', npm_config_script_shell: 'bash' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const done = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    await waitUntil(() => /connected 2\/2/.test(output), 60_000, 'the fleet under npx connected', 100).catch((error: Error) => {
      throw new Error(`${error.message}; it printed:\n${output}`);
    });
    process.kill(-child.pid!, 'SIGINT'); // what a terminal does on Ctrl-C
    expect(await done).toEqual({ code: 0, signal: null });
    expect(output).toMatch(/SIGINT: disconnecting 2 devices/);
  }, 90_000);

  it.concurrent('exits 4 with a clear message when the hub refuses the key', async () => {
    const wrong = hub.connectionString().replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    const run = fleetCli(['--devices', '2', '--connection-string', wrong, '--ca', hub.caPath]);
    expect(await run.exited).toBe(4);
    expect(run.output()).toMatch(/refused the credentials \(401/);
    expect(run.output()).toMatch(/SharedAccessKey/);
  });

  it.concurrent('exits 3 with a clear message when the hub cannot be reached', async () => {
    const nowhere = hub.connectionString().replace(/HostName=[^;]+/, 'HostName=127.1.2.3');
    const run = fleetCli(['--devices', '2', '--connection-string', nowhere]);
    expect(await run.exited).toBe(3);
    expect(run.output()).toMatch(/cannot reach the hub at https:\/\/127\.1\.2\.3: ECONNREFUSED/);
  });

  it.concurrent('exits 2 naming the setting that is wrong', async () => {
    const run = fleetCli(['--devices', 'lots'], { IOTHUB_CONNECTION_STRING: hub.connectionString() });
    const none = fleetCli(['--devices', '2'], { IOTHUB_CONNECTION_STRING: '' });
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/--devices: 'lots' is not a whole number/);
    expect(await none.exited).toBe(2);
    expect(none.output()).toMatch(/which hub\?/);
  });
});
