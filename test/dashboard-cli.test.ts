import { describe, expect, it } from 'vitest';
import { exited, runCli, startArgs, startEmulatorCli } from './support/cli-process.js';
import { waitUntil } from './support/wait.js';

/** The dashboard as `iothub-emulator start` serves it: its own plain-HTTP port on the hub's --host. */
const hubArgs = (host: string): string[] => startArgs(host, '/tmp/iothub-emulator-dashboard-cli', { inMemory: true });

describe('the dashboard in iothub-emulator start', () => {
  it('documents --dashboard-port and its environment variable', async () => {
    const help = runCli(['start', '--help']);
    expect(await exited(help)).toBe(0);
    expect(help.output()).toContain('--dashboard-port');
    expect(help.output()).toContain('IOTHUB_EMULATOR_DASHBOARD_PORT');
    expect(help.output().replace(/\s+/g, ' ')).toContain('(0 turns it off) (default: 8080, env: IOTHUB_EMULATOR_DASHBOARD_PORT)');
  });

  it('prints its address on a line of its own and serves the page and its API there, to loopback names only', async () => {
    const port = 18_080 + Math.floor(Math.random() * 1000);
    const { child, host } = await startEmulatorCli(hubArgs, {
      env: { IOTHUB_EMULATOR_DASHBOARD_PORT: String(port) },
    });
    try {
      const url = `http://${host}:${port}/`;
      await waitUntil(() => child.output().split('\n').includes(`Dashboard: ${url}`), 10_000, 'the Dashboard line');
      const page = await fetch(`${url}devices/some-device`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('<div id="app"></div>');

      const created = await fetch(`${url}api/devices`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ deviceId: 'cli-dash-door' }),
      });
      expect(created.status).toBe(201);
      const list = (await (await fetch(`${url}api/devices?q=cli-dash`)).json()) as { total: number; rows: { deviceId: string; connectionState: string }[] };
      expect(list.rows).toEqual([expect.objectContaining({ deviceId: 'cli-dash-door', connectionState: 'Disconnected' })]);

      // The hub's own refusal, passed on with its code.
      const again = await fetch(`${url}api/devices`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ deviceId: 'cli-dash-door' }),
      });
      expect(again.status).toBe(409);
      expect(await again.json()).toMatchObject({ errorCode: 'DeviceAlreadyExists', message: "A device with ID 'cli-dash-door' is already registered." });

      // Another site's page in the same browser cannot drive it, nor can a rebinding host name.
      const foreign = await fetch(`${url}api/devices/cli-dash-door`, { method: 'DELETE', headers: { origin: 'http://evil.example' } });
      expect(foreign.status).toBe(403);
      const form = await fetch(`${url}api/devices`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'deviceId=x' });
      expect(form.status).toBe(415);
      const rebound = await new Promise<number>((resolve, reject) => {
        import('node:http').then(({ default: http }) =>
          http
            .get({ host, port, path: '/api/devices', headers: { host: `evil.example:${port}` } }, (res) => {
              res.resume();
              resolve(res.statusCode!);
            })
            .on('error', reject),
        );
      });
      expect(rebound).toBe(403);
      expect(((await (await fetch(`${url}api/devices?q=cli-dash`)).json()) as { total: number }).total).toBe(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child)).toBe(0);
  });

  it('ships the built page in the npm package', async () => {
    const { execFileSync } = await import('node:child_process');
    const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' })) as {
      files: { path: string }[];
    }[];
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/dashboard/web/index.html');
    expect(files.some((f) => /^dist\/dashboard\/web\/assets\/index-[\w-]+\.js$/.test(f))).toBe(true);
    expect(files).toContain('dist/dashboard/server/dashboard-server.js');
  });

  it('runs the hub without the dashboard when the default port is taken, and refuses to when the port was asked for', async () => {
    const { default: net } = await import('node:net');
    const host = `127.0.0.${2 + Math.floor(Math.random() * 250)}`;
    const squatter = net.createServer();
    await new Promise<void>((resolve, reject) => squatter.once('error', reject).listen(8080, host, () => resolve()));
    try {
      const { child } = await startEmulatorCli(hubArgs, { host });
      try {
        await waitUntil(() => child.output().includes('export NODE_EXTRA_CA_CERTS='), 10_000, 'the banner');
        // The warning goes through the logger, which may write it after the banner.
        await waitUntil(() => child.output().includes(`Cannot listen for the dashboard on ${host}:8080`), 10_000, 'the warning');
        expect(child.output()).toContain('the hub runs without its dashboard');
        expect(child.output()).not.toContain('Dashboard:');
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited(child)).toBe(0);

      const asked = runCli(['start', ...hubArgs(host), '--dashboard-port', '8080']);
      expect(await exited(asked)).toBe(1);
      expect(asked.output()).toContain(`iothub-emulator: Cannot listen for the dashboard on ${host}:8080`);
      expect(asked.output()).toContain('pick another --dashboard-port, or 0 to turn the dashboard off');
    } finally {
      squatter.close();
    }
  });

  it('is off with --dashboard-port 0', async () => {
    const { child, host } = await startEmulatorCli((h) => [...hubArgs(h), '--dashboard-port', '0']);
    try {
      await waitUntil(() => child.output().includes('export NODE_EXTRA_CA_CERTS='), 10_000, 'the banner');
      expect(child.output()).not.toContain('Dashboard:');
      await expect(fetch(`http://${host}:8080/`)).rejects.toThrow();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child)).toBe(0);
  });
});
