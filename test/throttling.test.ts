import iothub from 'azure-iothub';
import https from 'node:https';
import tls from 'node:tls';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Hub } from '../cli/start-hub.js';
import { createSasToken } from '../protocol/sas.js';
import { startTestHub } from './support/hub-factory.js';
import { connectDevice, type JobDevice } from './support/job-helpers.js';
import { closed, connectRaw } from './support/raw-device.js';
import { openDevice, registryFor, rest } from './support/sdk.js';

const { JobClient } = iothub;

/**
 * A TLS connection that has finished its handshake and not yet sent CONNECT, so a test can send
 * many CONNECTs in the same instant (handshakes take CPU time; CONNECTs arrive together).
 * `connect()` resolves with the CONNACK return code, or -1 when the socket closed first.
 */
function tlsReady(hub: Hub, deviceId: string): Promise<{ connect(): Promise<number> }> {
  const key = hub.registry.get(deviceId).authentication.symmetricKey.primaryKey!;
  const password = createSasToken(`${hub.hostName}/devices/${deviceId}`, key, Math.floor(Date.now() / 1000) + 600);
  return new Promise((ready, fail) => {
    const socket = tls.connect({ host: hub.options.host, port: hub.mqttPort, ca: hub.ca, servername: hub.hostName });
    socket.once('error', fail);
    socket.once('secureConnect', () =>
      ready({
        connect: () =>
          new Promise((resolve) => {
            const parser = mqttPacket.parser({ protocolVersion: 4 });
            parser.on('packet', (packet) => {
              if (packet.cmd === 'connack') {
                resolve(packet.returnCode ?? 0);
                socket.destroy();
              }
            });
            socket.on('data', (chunk) => parser.parse(chunk));
            socket.on('error', () => resolve(-1));
            socket.on('close', () => resolve(-1));
            socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: deviceId, clean: true, keepalive: 60, username: `${hub.hostName}/${deviceId}/?api-version=2021-04-12`, password: Buffer.from(password) }));
          }),
      }),
    );
  });
}

/** One HTTPS request on `agent` with a service SAS; the answer's status, error code header and JSON body. */
function request(hub: Hub, agent: https.Agent, method: string, path: string, body?: object): Promise<{ status: number; errorCode?: string; json: any }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      { host: hub.options.host, servername: hub.hostName, port: hub.httpsPort, method, path, agent, headers: { authorization: hub.serviceToken(), 'content-type': 'application/json', 'if-match': '*', ...(text ? { 'content-length': Buffer.byteLength(text) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, errorCode: res.headers['iothub-errorcode'] as string | undefined, json: raw ? JSON.parse(raw) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

describe('an emulated S1 hub with one unit', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startTestHub({ tier: 'S1', units: 1 });
  });
  afterAll(() => hub?.stop());

  it('runs a method job over 30 devices at 10 device operations per second, and says so while it runs', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `s1-job-${String(i).padStart(2, '0')}`);
    for (const id of ids) hub.registry.create({ deviceId: id });
    const devices: JobDevice[] = [];
    try {
      for (const id of ids) devices.push(await connectDevice(hub, id));
      await vi.waitFor(() => expect(ids.every((id) => hub.connections.isSubscribed(id, 'methods'))).toBe(true), { timeout: 10_000 });
      const jobs = JobClient.fromConnectionString(hub.connectionString());
      await jobs.scheduleDeviceMethod('s1-lock', `deviceId IN [${ids.map((id) => `'${id}'`).join(', ')}]`, { methodName: 'lockDoor', payload: {}, responseTimeoutInSeconds: 10 }, new Date(), 60);
      await vi.waitFor(async () => expect((await jobs.getJob('s1-lock')).jobStatus.statusMessage).toMatch(/10 device operations per second \(S1, 1 unit\)/), { timeout: 5000, interval: 50 });
      const job = await vi.waitFor(
        async () => {
          const status = (await jobs.getJob('s1-lock')).jobStatus as { status: string; startTime: string; endTime: string; deviceJobStatistics: { succeededCount: number } };
          expect(status.status).toBe('completed');
          return status;
        },
        { timeout: 20_000, interval: 200 },
      );
      expect(job.deviceJobStatistics.succeededCount).toBe(30);
      // 30 operations at 10/s: the first goes at once, the 30th 2.9 s later.
      const seconds = (Date.parse(job.endTime) - Date.parse(job.startTime)) / 1000;
      expect(seconds).toBeGreaterThanOrEqual(2.8);
      expect(seconds).toBeLessThan(10);
      expect(devices.every((d) => d.calls.length === 1)).toBe(true);
    } finally {
      await Promise.all(devices.map((d) => d.close()));
    }
  }, 60_000);

  it('answers the excess of a burst of 200 twin updates with 429 ThrottlingException, as the SDK parses it', async () => {
    hub.registry.create({ deviceId: 's1-twin' });
    const registry = registryFor(hub);
    // The burst itself from bare HTTPS requests on connections opened beforehand, so 200 arrive in
    // the same instant: on two shared cores neither the SDK nor new TLS connections can send 200
    // requests faster than 50 a second.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 200, ca: hub.ca });
    let seconds: number;
    let answers: Awaited<ReturnType<typeof request>>[];
    let sdkAnswers: PromiseSettledResult<unknown>[];
    try {
      await Promise.all(Array.from({ length: 200 }, () => request(hub, agent, 'GET', '/health')));
      const started = Date.now();
      answers = await Promise.all(Array.from({ length: 200 }, (_, i) => request(hub, agent, 'PATCH', '/twins/s1-twin', { properties: { desired: { n: i } } })));
      seconds = (Date.now() - started) / 1000;
      // SDK calls that meet a full backlog get the SDK's own error class. The backlog is kept full
      // from inside the hub, so the check does not depend on how fast this machine sends.
      const keepFull = setInterval(() => {
        while (hub.throttle!.admit('twinUpdate').kind !== 'throttled');
      }, 1);
      try {
        sdkAnswers = await Promise.allSettled(Array.from({ length: 5 }, () => registry.updateTwin('s1-twin', { properties: { desired: { sdk: true } } }, '*')));
      } finally {
        clearInterval(keepFull);
      }
    } finally {
      agent.destroy();
    }
    const accepted = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted + refused.length).toBe(200);
    // 50 at once, then 50 a second (some answered late), the rest refused.
    expect(accepted).toBeGreaterThanOrEqual(50);
    expect(accepted).toBeLessThanOrEqual(50 + 50 * (seconds + 1));
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect(answer.errorCode).toBe('ThrottlingException');
      expect(answer.json.Message).toMatch(/^ErrorCode:ThrottlingException;/);
    }
    const sdkRefused = sdkAnswers.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(sdkRefused.length).toBeGreaterThan(0);
    for (const r of sdkRefused) expect((r.reason as Error).name).toBe('ThrottlingError');
    const metrics = await (await fetch(`https://${hub.hostName}:${hub.httpsPort}/metrics`)).text();
    expect(metrics).toMatch(/iothub_emulator_throttled_total\{operation="twinUpdate",outcome="throttled"\} [1-9]/);
    expect(hub.recording.entries({ kind: 'throttle' }).some((e) => e.operation === 'twinUpdate' && e.outcome === 'throttled')).toBe(true);
  });

  it('refuses new connections beyond 100 per second with CONNACK 3 (Server unavailable), which the SDK retries', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `s1-conn-${i}`);
    for (const id of ids) hub.registry.create({ deviceId: id });
    const sockets = [];
    for (let i = 0; i < ids.length; i += 50) sockets.push(...(await Promise.all(ids.slice(i, i + 50).map((id) => tlsReady(hub, id)))));
    const codes = await Promise.all(sockets.map((s) => s.connect()));
    const accepted = codes.filter((c) => c === 0).length;
    const refused = codes.filter((c) => c === 3).length;
    expect(accepted + refused).toBe(300);
    expect(accepted).toBeGreaterThanOrEqual(100);
    expect(refused).toBeGreaterThan(0);
    // An SDK device that meets the refusal retries until the rate lets it in.
    await vi.waitFor(() => expect(hub.connections.count).toBe(0), { timeout: 10_000 });
    const sdk = await openDevice(hub.deviceConnectionString('s1-conn-0'));
    await sdk.close();
  }, 60_000);
});

describe('an emulated free hub', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startTestHub({ tier: 'F1', units: 1 });
  });
  afterAll(() => hub?.stop());

  it('answers 403002 IotHubQuotaExceeded once the day\'s 8,000 messages are spent, until midnight UTC of the hub clock', async () => {
    hub.registry.create({ deviceId: 'f1-quota' });
    // A bare client: the SDK would reconnect and resend for ever once the hub closes it.
    const device = await connectRaw(hub, 'f1-quota', { clean: true });
    // 0.5 KB metering on the free tier: a 250 KB message is 500 of the day's 8,000, so 16 spend it all.
    const body = Buffer.alloc(250 * 1024, 'a');
    let acknowledged = 0;
    for (let i = 0; i < 17; i++) {
      const acked = await new Promise<boolean>((resolve) => {
        device.publish('devices/f1-quota/messages/events/', body, { qos: 1 }, (error) => resolve(!error));
        device.once('close', () => resolve(false));
      });
      if (!acked) break;
      acknowledged++;
    }
    expect(acknowledged).toBe(16);
    expect(await closed(device)).toBe(true);
    device.end(true);
    const answer = await rest(hub, 'GET', '/twins/f1-quota');
    expect(answer.status).toBe(403);
    expect(answer.headers.get('iothub-errorcode')).toBe('IotHubQuotaExceeded');
    expect(answer.json.Message).toMatch(/^ErrorCode:IotHubQuotaExceeded;/);
    await expect(registryFor(hub).getTwin('f1-quota')).rejects.toMatchObject({ name: 'TooManyDevicesError' }) // how azure-iothub's REST client names every 403;
    // A new UTC day on the hub clock gives a new quota.
    const now = hub.clock.now();
    hub.clock.advance(86_400_000 - (now % 86_400_000) + 1000);
    expect((await rest(hub, 'GET', '/twins/f1-quota')).status).toBe(200);
  }, 60_000);
});
