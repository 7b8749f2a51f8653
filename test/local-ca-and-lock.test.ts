import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '../cli/start-hub.js';
import type { HubOptions } from '../emulator/config.js';
import { LOCK_FILE } from '../emulator/store/data-dir-lock.js';
import { onFreeLoopbackAddress } from '../emulator/testing/loopback-address.js';
import { resolveCaDir, userCaDir } from '../emulator/tls/ca-location.js';
import { createSasToken } from '../protocol/sas.js';
import { exited, runBuiltCli } from './support/cli-process.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'local-ca-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const dir = (name: string): string => path.join(scratch, name);

/** A hub with every directory given explicitly (no test default), on a free loopback address. */
function hubOn(options: Partial<HubOptions>, logger?: pino.Logger): Promise<Hub> {
  return onFreeLoopbackAddress((host) => startHub({ host, hostName: host, logLevel: 'silent', ...options }, logger));
}

/** A TLS handshake that trusts only `ca`: is the server's certificate issued by it for `host`? */
function verifiedBy(ca: string, host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, ca, rejectUnauthorized: false }, () => {
      resolve(socket.authorized);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

function capturingLogger(): { logger: pino.Logger; lines: () => { msg: string; level: number }[] } {
  const raw: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void raw.push(line) });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as { msg: string; level: number }) };
}

describe('one local CA per user', () => {
  it("lives under the user's home unless --ca-dir (or --cert-dir) says otherwise", () => {
    expect(userCaDir()).toBe(path.join(os.homedir(), '.iothub-emulator', 'ca'));
    expect(resolveCaDir({})).toBe(userCaDir());
    expect(resolveCaDir({ certDir: '/x/certs' })).toBe('/x/certs');
    expect(resolveCaDir({ caDir: '/y/ca', certDir: '/x/certs' })).toBe('/y/ca');
    // This suite never writes there: every emulator it starts is given its CA directory.
    expect(process.env.IOTHUB_EMULATOR_CA_DIR).toBe(process.env.IOTHUB_EMULATOR_TEST_CERT_DIR);
  });

  it('issues the certificates of emulators on different data directories, and after a restart, from the same CA', async () => {
    const caDir = dir('user-ca');
    const a = await hubOn({ caDir, dataDir: dir('data-a'), inMemory: false });
    const b = await hubOn({ caDir, dataDir: dir('data-b'), inMemory: false });
    let caPem: string;
    try {
      expect(a.caPath).toBe(path.join(caDir, 'ca.pem'));
      expect(b.caPath).toBe(a.caPath);
      caPem = readFileSync(a.caPath, 'utf8');
      expect(await verifiedBy(caPem, a.options.host, a.httpsPort)).toBe(true);
      expect(await verifiedBy(caPem, b.options.host, b.mqttPort)).toBe(true);
      // Each data directory keeps only its own server certificate; the CA key stays in the CA directory.
      expect(readdirSync(path.join(dir('data-a'), 'certs')).sort()).toEqual(['server-key.pem', 'server.pem']);
      expect(statSync(path.join(caDir, 'ca-key.pem')).mode & 0o077).toBe(0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    const again = await hubOn({ caDir, dataDir: dir('data-a'), inMemory: false });
    try {
      expect(again.ca).toBe(caPem);
    } finally {
      await again.stop();
    }
  });

  it('`iothub-emulator ca` creates it once and prints its path and the NODE_EXTRA_CA_CERTS line', async () => {
    const caDir = dir('printed-ca');
    const first = runBuiltCli(['ca', '--ca-dir', caDir]);
    expect(await exited(first)).toBe(0);
    expect(first.stdoutText()).toContain(`export NODE_EXTRA_CA_CERTS=${path.join(caDir, 'ca.pem')}`);
    const pem = readFileSync(path.join(caDir, 'ca.pem'), 'utf8');
    const onlyPath = runBuiltCli(['ca', '--path'], { IOTHUB_EMULATOR_CA_DIR: caDir });
    expect(await exited(onlyPath)).toBe(0);
    expect(onlyPath.stdoutText()).toBe(`${path.join(caDir, 'ca.pem')}\n`);
    expect(readFileSync(path.join(caDir, 'ca.pem'), 'utf8')).toBe(pem);
  });
});

describe('collisions are refused or said out loud', () => {
  it('refuses a second emulator on a data directory in use, naming the holder; takes over the lock of a dead one', async () => {
    const dataDir = dir('locked');
    const first = await hubOn({ caDir: dir('user-ca'), dataDir, inMemory: false });
    try {
      const holder = JSON.parse(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8'));
      expect(holder).toMatchObject({ pid: process.pid, listen: `${first.options.host}:443` });
      const error = await hubOn({ caDir: dir('user-ca'), dataDir, inMemory: false }).catch((e: Error) => e);
      expect(String(error)).toMatch(
        new RegExp(`The data directory ${dataDir} is in use by another emulator \\(pid ${process.pid}, listening on ${first.options.host}:443`),
      );
      // The CLI says the same and exits 1.
      const cli = runBuiltCli(['start', '--host', '127.0.0.1', '--https-port', '0', '--mqtt-port', '0', '--data-dir', dataDir, '--ca-dir', dir('user-ca')]);
      expect(await exited(cli)).toBe(1);
      expect(cli.output()).toMatch(/iothub-emulator: The data directory .* is in use by another emulator \(pid \d+/);
    } finally {
      await first.stop();
    }
    expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);

    // A lock left behind by a process that no longer runs (kill -9).
    const dead = spawn(process.execPath, ['-e', '']);
    const deadPid = dead.pid!;
    await new Promise((r) => dead.once('exit', r));
    writeFileSync(path.join(dataDir, LOCK_FILE), JSON.stringify({ pid: deadPid, hostname: os.hostname(), startedAt: new Date().toISOString() }));
    const taker = await hubOn({ caDir: dir('user-ca'), dataDir, inMemory: false });
    try {
      expect(JSON.parse(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    } finally {
      await taker.stop();
    }
    // A container restarted: the lock of its previous run names pid 1, which is this process again.
    writeFileSync(path.join(dataDir, LOCK_FILE), JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() }));
    const restarted = await hubOn({ caDir: dir('user-ca'), dataDir, inMemory: false });
    await restarted.stop();
  });

  it('suggests another loopback address when 443 is taken', async () => {
    const first = await hubOn({ caDir: dir('user-ca'), dataDir: dir('port'), inMemory: true });
    try {
      const last = Number(first.options.host.split('.')[3]);
      const error = await startHub({ host: first.options.host, caDir: dir('user-ca'), dataDir: dir('port'), inMemory: true, logLevel: 'silent' }).catch(
        (e: Error) => e,
      );
      expect(String(error)).toContain(`Cannot listen for HTTPS on ${first.options.host}:443`);
      expect(String(error)).toContain(`the service SDK only calls port 443, so start this one on another loopback address: --host 127.0.0.${last + 1}`);
    } finally {
      await first.stop();
    }
  });

  it('logs a failed TLS handshake at info with the CA hint, and a device connection replaced by a second client', async () => {
    const { logger, lines } = capturingLogger();
    const hub = await hubOn({ caDir: dir('user-ca'), dataDir: dir('logs'), inMemory: true }, logger);
    try {
      const record = hub.registry.create({ deviceId: 'twice' });
      const untrusting = tls.connect({ host: hub.options.host, port: hub.mqttPort });
      const clientError = await new Promise<Error>((resolve) => untrusting.once('error', resolve));
      expect(clientError.message).toMatch(/unable to verify the first certificate|self-signed certificate in certificate chain/);
      await expect
        .poll(() => lines().find((l) => l.msg.startsWith('TLS handshake failed on MQTT/TLS')))
        .toMatchObject({
          level: 30,
          msg: expect.stringContaining(`it does not trust the emulator's CA; run it with NODE_EXTRA_CA_CERTS=${hub.caPath}`),
        });

      const connect = () =>
        mqtt.connectAsync(`mqtts://${hub.options.host}:${hub.mqttPort}`, {
          clientId: 'twice',
          username: `${hub.hostName}/twice/?api-version=2021-04-12`,
          password: createSasToken(`${hub.hostName}/devices/twice`, record.authentication.symmetricKey.primaryKey!, Math.floor(Date.now() / 1000) + 3600),
          ca: hub.ca,
          reconnectPeriod: 0,
          protocolVersion: 4,
        });
      const one = await connect();
      one.on('error', () => undefined);
      const two = await connect();
      try {
        await expect.poll(() => lines().find((l) => l.msg.startsWith('connection of twice replaced by a new connection'))).toMatchObject({ level: 30 });
      } finally {
        await Promise.all([one.endAsync(true), two.endAsync()]);
      }
    } finally {
      await hub.stop();
    }
  });
});
