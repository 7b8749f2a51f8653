import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exited, runCli, startArgs, startEmulatorCli, waitForHealth } from './support/cli-process.js';
import { Registry } from './support/sdk.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('the iothub-emulator command', () => {
  it('documents every flag with its environment variable in --help', async () => {
    const help = runCli(['start', '--help']);
    expect(await exited(help)).toBe(0);
    for (const flag of [
      '--host',
      '--https-port',
      '--mqtt-port',
      '--mqtt-plain-port',
      '--data-dir',
      '--in-memory',
      '--ca-dir',
      '--cert-dir',
      '--cert-name',
      '--mqtt-max-packet-size',
      '--tls-handshake-timeout',
      '--max-pending-connections',
    ]) {
      expect(help.output()).toContain(flag);
    }
    // commander wraps long help lines; the variable names are never split.
    for (const variable of [
      'IOTHUB_EMULATOR_HTTPS_PORT',
      'IOTHUB_EMULATOR_CA_DIR',
      'IOTHUB_EMULATOR_MQTT_MAX_PACKET_SIZE',
      'IOTHUB_EMULATOR_TLS_HANDSHAKE_TIMEOUT',
      'IOTHUB_EMULATOR_MAX_PENDING_CONNECTIONS',
    ]) {
      expect(help.output()).toContain(variable);
    }
  });

  it('prints its version', async () => {
    const version = runCli(['--version']);
    expect(await exited(version)).toBe(0);
    expect(version.output().trim()).toBe(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
  });

  it('starts, prints the connection string and CA line, serves, and stops cleanly on SIGTERM', async () => {
    const { child, host } = await startEmulatorCli((h) => startArgs(h, dataDir), { env: { IOTHUB_EMULATOR_MQTT_PLAIN_PORT: '18830' } });
    try {
      await waitForHealth(host);
      expect(child.output()).toContain(`HostName=${host};SharedAccessKeyName=iothubowner;SharedAccessKey=rRLBpgnCo0Oa8ww60kU1nM5HT4L3rAVjRIb3RRiooFk=`);
      expect(child.output()).toContain(`export NODE_EXTRA_CA_CERTS=${path.join(process.env.IOTHUB_EMULATOR_TEST_CERT_DIR!, 'ca.pem')}`);
      expect(child.output()).toContain(`mqtt://${host}:18830`);
      const registry = Registry.fromConnectionString(
        `HostName=${host};SharedAccessKeyName=iothubowner;SharedAccessKey=rRLBpgnCo0Oa8ww60kU1nM5HT4L3rAVjRIb3RRiooFk=`,
      );
      const key = (await registry.create({ deviceId: 'cli-door' })).responseBody.authentication!.symmetricKey!.primaryKey;

      // Asked of the running emulator, from any folder: no --data-dir.
      const printed = runCli(['connection-string', '--device', 'cli-door', '--host', host]);
      expect(await exited(printed)).toBe(0);
      expect(printed.output().trim()).toBe(`HostName=${host};DeviceId=cli-door;SharedAccessKey=${key}`);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child)).toBe(0);
  });

  it('prints the hub connection string for a policy, and fails clearly on an unknown one', async () => {
    const ok = runCli(['connection-string', '--policy', 'service']);
    expect(await exited(ok)).toBe(0);
    expect(ok.output().trim()).toBe('HostName=localhost;SharedAccessKeyName=service;SharedAccessKey=/bAiRJykaPg8V1NLrhdqKVR2WvSJhcSRGCYSR7p/bnI=');
    const bad = runCli(['connection-string', '--policy', 'nope']);
    expect(await exited(bad)).toBe(1);
    expect(bad.output()).toMatch(/no policy 'nope'/);
  });

  it('exits non-zero with a clear message when a port is taken', async () => {
    const { child: first, host } = await startEmulatorCli((h) => startArgs(h, dataDir, { inMemory: true, logLevel: 'silent' }));
    try {
      const second = runCli(['start', ...startArgs(host, dataDir, { inMemory: true, logLevel: 'silent' })]);
      expect(await exited(second)).toBe(1);
      expect(second.output()).toMatch(new RegExp(`Cannot listen for HTTPS on ${host.replace(/\./g, '\\.')}:443: .*EADDRINUSE`));
    } finally {
      first.kill('SIGINT');
      expect(await exited(first)).toBe(0);
    }
  });
});
