import type iothub from 'azure-iothub';
import mqtt, { type MqttClient } from 'mqtt';
import { spawn, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSasToken } from '../../protocol/sas.js';
import { DESIRED_FILTER, METHODS_FILTER, reportedPatchTopic, TWIN_RESPONSE_FILTER, twinGetTopic } from '../../protocol/topics.js';
import { emulatorStdio, healthy } from './emulator-process.js';
import { cpuSeconds } from './floor-compare.js';
import { settle } from './tls-floor.js';

/** MQTT devices as the scale and connections benches drive them: bare mqtt.js over TLS, one shared key. */

// The connecting devices share one key (the registry takes a given key; others get generated keys).
export const DEVICE_KEY = Buffer.alloc(32, 7).toString('base64');
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../cli/main.js');

export const connectingDeviceId = (n: number): string => `conn-${String(n).padStart(6, '0')}`;

/** Registers `conn-{first}` … `conn-{first + count - 1}` with DEVICE_KEY, 100 per call, 4 calls in flight. */
export async function registerConnectingDevices(registry: iothub.Registry, count: number, first = 0): Promise<void> {
  await inParallel(4, Math.ceil(count / 100), async (batch) => {
    const devices = Array.from({ length: Math.min(100, count - batch * 100) }, (_, j) => ({
      deviceId: connectingDeviceId(first + batch * 100 + j),
      status: 'enabled',
      authentication: { symmetricKey: { primaryKey: DEVICE_KEY, secondaryKey: DEVICE_KEY } },
    }));
    const { responseBody } = await registry.addDevices(devices as iothub.Registry.DeviceDescription[]);
    if (!responseBody.isSuccessful) throw new Error(`addDevices: ${JSON.stringify(responseBody.errors).slice(0, 300)}`);
  });
}

/**
 * Bare mqtt.js devices over TLS (CleanSession=0, as the SDKs connect), resuming the floor's
 * session: connect, subscribe as an SDK device does (methods, twin responses, desired); with
 * `twin`, then GET the twin and PATCH a reported property, each awaited. 100 in flight. `port`
 * other than 8883 is the bare exchange floor (tls-exchange-floor.ts), driven by this same code.
 */
export async function connectDevices(
  host: string,
  ca: string,
  session: Buffer | undefined,
  count: number,
  twin: boolean,
  first = 0,
  port = 8883,
): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  await inParallel(100, count, async (i) => {
    const deviceId = connectingDeviceId(first + i);
    const client = await mqtt.connectAsync({
      protocol: 'mqtts',
      host,
      port,
      protocolVersion: 4,
      clientId: deviceId,
      username: `${host}/${deviceId}/?api-version=2021-04-12`,
      password: createSasToken(`${host}/devices/${deviceId}`, DEVICE_KEY, Math.floor(Date.now() / 1000) + 3600),
      clean: false,
      reconnectPeriod: 0,
      keepalive: 300,
      ca,
      maxVersion: 'TLSv1.2',
      ...(session ? { session } : {}),
    } as mqtt.IClientOptions);
    clients.push(client);
    await client.subscribeAsync([METHODS_FILTER, TWIN_RESPONSE_FILTER, DESIRED_FILTER], { qos: 0 });
    if (!twin) return;
    await twinCall(client, twinGetTopic('1'), '', '1');
    await twinCall(client, reportedPatchTopic('2'), JSON.stringify({ temperature: 20 + (i % 10) }), '2');
  });
  return clients;
}

/** One twin request and its answer (topic and body), as `connectDevices` makes it. */
export function twinCall(client: MqttClient, topic: string, body: string, rid: string): Promise<{ topic: string; body: string }> {
  return new Promise((resolve, reject) => {
    const onMessage = (t: string, payload: Buffer): void => {
      if (!t.startsWith('$iothub/twin/res/') || !t.includes(`$rid=${rid}`)) return;
      client.off('message', onMessage);
      if (/^\$iothub\/twin\/res\/20[04]\//.test(t)) resolve({ topic: t, body: payload.toString('utf8') });
      else reject(new Error(`twin call answered ${t}`));
    };
    client.on('message', onMessage);
    client.publish(topic, body, { qos: 0 });
  });
}

/** Drops every connection (no DISCONNECT packet), waits until the hub counts none, returns its CPU seconds. */
export async function closeAll(host: string, clients: MqttClient[], pid: number, token: string): Promise<number> {
  const before = cpuSeconds(pid);
  for (const c of clients) c.stream.destroy();
  const deadline = Date.now() + 120_000;
  while ((await connectedDevices(host, token)) > 0) {
    if (Date.now() > deadline) throw new Error('devices still connected two minutes after their sockets closed');
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await settle(pid);
  return cpuSeconds(pid) - before;
}

async function connectedDevices(host: string, token: string): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get({ host, port: 443, path: '/metrics', headers: { authorization: token } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
  const match = /^connectedDeviceCount\s+(\d+)/m.exec(text);
  if (!match) throw new Error('/metrics has no connectedDeviceCount');
  return Number(match[1]);
}

export interface OnDisk {
  pid: number;
  readyMs: number;
  stop(): Promise<void>;
}

/** The built emulator as its own process on a data directory on disk (not --in-memory), timed to /health 200. */
export async function startOnDisk(host: string, dataDir: string, certDir: string, extraArgs: string[] = []): Promise<OnDisk> {
  // IOTHUB_EMULATOR_BENCH_NODE_ARGS passes Node flags to the emulator (e.g. --cpu-prof to profile it).
  const nodeArgs = (process.env.IOTHUB_EMULATOR_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const started = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, cli, 'start', '--host', host, '--hostname', host, '--data-dir', dataDir, '--log-level', 'warn', '--log-format', 'json', ...extraArgs],
    {
      env: { ...process.env, IOTHUB_EMULATOR_CERT_DIR: certDir },
      stdio: emulatorStdio(),
    },
  );
  const deadline = Date.now() + 600_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the emulator exited with code ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('the emulator was not ready within 10 minutes');
    if (await healthy(host)) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const readyMs = performance.now() - started;
  return {
    pid: child.pid!,
    readyMs,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

export async function inParallel(width: number, count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}
