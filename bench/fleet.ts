import iothub from 'azure-iothub';
import hdr from 'hdr-histogram-js';
import mqtt from 'mqtt';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { wellKnownPolicies } from '../emulator/identity/policies.js';
import { DEFAULT_TOKEN_TTL_SECONDS, type EngineName, type FleetConfig } from '../fleet/config.js';
import { deviceId, WHOLE } from '../fleet/device-range.js';
import { startFleet } from '../fleet/fleet.js';
import { hubAddress } from '../fleet/hub/hub-address.js';
import { registerDevices } from '../fleet/hub/registration.js';
import { ServiceClient } from '../fleet/hub/service-client.js';
import { percentiles } from '../fleet/report.js';
import { defaultScenario } from '../fleet/scenario/scenario.js';
import { createSasToken } from '../protocol/sas.js';
import { METHODS_FILTER, methodResponseTopic, parseHubPublish } from '../protocol/topics.js';
import { startEmulatorProcess, type EmulatorProcess } from './support/emulator-process.js';
import type { Bench, BenchRow } from './support/harness.js';

const HOST = '127.0.0.205';
const DEVICES = Number(process.env.FLEET_BENCH_DEVICES ?? 10_000);
const TLS_BASELINE_SOCKETS = 2_000;
const METHOD_SECONDS = 5;
const METHODS_IN_FLIGHT = 32;

const owner = wellKnownPolicies[0];
const connectionString = `HostName=${HOST};SharedAccessKeyName=${owner.keyName};SharedAccessKey=${owner.primaryKey}`;

// Memory figures need a collection first; the bench process is not started with --expose-gc.
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export const bench: Bench = {
  name: 'fleet',
  description: `${DEVICES.toLocaleString('en-US')} simulated lockDoor devices against the emulator (both on this machine)`,
  async run() {
    const certDir = process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR!;
    const emulator = await startEmulatorProcess(HOST, certDir);
    const rows: BenchRow[] = [];
    try {
      rows.push(...(await lightInOneProcess(emulator)));
      rows.push(await connectWithWorkers('light', 2, 10));
      rows.push(await connectWithWorkers('sdk', 2, 15));
    } finally {
      await emulator.stop();
    }
    return rows;
  },
};

function config(engine: EngineName, prefix: string, workers: number): FleetConfig {
  return {
    connectionString,
    engine,
    devices: DEVICES,
    prefix,
    shard: WHOLE,
    workers,
    tokenTtlSeconds: DEFAULT_TOKEN_TTL_SECONDS,
    durationMs: 0,
    scenario: { ...defaultScenario, connect: { ...defaultScenario.connect, concurrency: 200 } },
  };
}

/** Registers first, so the connect figure is the connect phase alone. */
async function register(prefix: string): Promise<number> {
  const hub = hubAddress(connectionString);
  const client = new ServiceClient(hub);
  const started = performance.now();
  await registerDevices(client, hub, prefix, DEVICES, { start: 0, end: DEVICES });
  client.close();
  return (performance.now() - started) / 1000;
}

/** Light engine, devices in this process: connect time, memory per device, method-handling overhead. */
async function lightInOneProcess(emulator: EmulatorProcess): Promise<BenchRow[]> {
  const prefix = 'bench-light1-';
  const registerSeconds = await register(prefix);
  const tlsBaseline = await rawTlsBaseline(emulator.process.pid!);

  gc();
  const before = process.memoryUsage();
  // CPU is counted from the end of registration (startFleet checks the devices exist again).
  let cpuBefore = process.cpuUsage();
  let emulatorCpu = cpuSeconds(emulator.process.pid!);
  const fleet = await startFleet(config('light', prefix, 0), {
    onRegistered(done, total) {
      if (done < total) return;
      cpuBefore = process.cpuUsage();
      emulatorCpu = cpuSeconds(emulator.process.pid!);
    },
  });
  const rampMs = await fleet.ramped;
  const cpu = process.cpuUsage(cpuBefore);
  const emulatorCpuUsed = cpuSeconds(emulator.process.pid!) - emulatorCpu;
  const connected = fleet.stats().counters.everConnected;
  // Let twin syncs finish, then measure what the devices hold.
  await new Promise((r) => setTimeout(r, 3_000));
  gc();
  gc();
  const after = process.memoryUsage();
  const rssPerDevice = (after.rss - before.rss) / DEVICES / 1024;
  const heapPerDevice = (after.heapUsed - before.heapUsed) / DEVICES / 1024;

  const { overhead, baseline } = await methodOverhead(fleet.stats, prefix);
  await fleet.stop();

  const rate = Math.round(connected / (rampMs / 1000));
  return [
    { metric: `light: register ${DEVICES} devices (bulk, 100 per call)`, value: registerSeconds, unit: 's', note: 'REST POST /devices, 4 calls in flight' },
    {
      metric: `light: ${DEVICES} devices connected (TLS), 1 process`,
      value: rampMs / 1000,
      unit: 's',
      target: '≤ 10',
      note: `${connected} connected, ${rate}/s; CPU per device: fleet ${ms((cpu.user + cpu.system) / 1000 / DEVICES)} ms, emulator ${ms((emulatorCpuUsed * 1000) / DEVICES)} ms; a bare TLS connection (resumed session) alone: fleet ${ms(tlsBaseline.clientCpuMs)} ms, emulator ${ms(tlsBaseline.hubCpuMs)} ms`,
    },
    {
      metric: 'light: client memory per device (RSS delta / N)',
      value: rssPerDevice,
      unit: 'KB',
      target: '≤ 25',
      baseline: tlsBaseline.kbPerSocket,
      note: `JS heap ${heapPerDevice.toFixed(1)} KB of it; baseline: one bare TLS socket to the emulator, measured the same way (OpenSSL's per-connection state, the resumed session with the server's certificate, Node's socket)`,
    },
    {
      metric: 'method-handling overhead in the fleet, p50',
      value: overhead.p50 * 1000,
      unit: 'µs',
      target: '≤ 200',
      baseline: baseline.p50 * 1000,
      note: `p99 ${us(overhead.p99)} µs over ${overhead.count} calls; baseline: a bare mqtt.js handler that answers at once (p99 ${us(baseline.p99)} µs)`,
    },
  ];
}

/** Request arrival to response publish inside the fleet, under a closed loop of calls from azure-iothub. */
async function methodOverhead(stats: () => { methodOverhead: ReturnType<typeof hdr.build> }, prefix: string) {
  const service = iothub.Client.fromConnectionString(connectionString);
  const call = (i: number) =>
    service.invokeDeviceMethod(deviceId(prefix, i % 1000, DEVICES), { methodName: 'lockDoor', payload: { by: 'bench' }, responseTimeoutInSeconds: 30 });
  await closedLoop(METHODS_IN_FLIGHT, 1, call); // warm-up
  const warm = stats().methodOverhead.totalCount;
  await closedLoop(METHODS_IN_FLIGHT, METHOD_SECONDS, call);
  const all = stats().methodOverhead;
  if (all.totalCount - warm < 100) throw new Error('too few method calls were measured');
  const overhead = percentiles(all, 1e6);

  // The same measurement around the least a device can do: answer in mqtt.js's message handler.
  const hub = hubAddress(connectionString);
  const client = new ServiceClient(hub);
  const [bare] = await registerDevices(client, hub, 'bench-bare-', 1, { start: 0, end: 1 });
  client.close();
  const histogram = hdr.build({ numberOfSignificantValueDigits: 3 });
  const device = await mqtt.connectAsync({
    protocol: 'mqtts',
    host: HOST,
    port: 8883,
    protocolVersion: 4,
    clientId: bare.deviceId,
    username: `${HOST}/${bare.deviceId}/?api-version=2021-04-12`,
    password: createSasToken(`${HOST}/devices/${bare.deviceId}`, bare.keys.primaryKey, Math.ceil(Date.now() / 1000) + 3600),
    clean: false,
    reconnectPeriod: 0,
  });
  device.on('message', (topic, payload) => {
    const arrived = performance.now();
    const message = parseHubPublish(topic);
    if (message?.kind !== 'methodRequest') return;
    JSON.parse(payload.toString('utf8'));
    device.publish(methodResponseTopic(200, message.rid), '{"doorState":"locked"}', { qos: 0 });
    histogram.recordValue(Math.max(1, Math.round((performance.now() - arrived) * 1e6)));
  });
  await device.subscribeAsync(METHODS_FILTER, { qos: 0 });
  const callBare = () => service.invokeDeviceMethod(bare.deviceId, { methodName: 'lockDoor', payload: { by: 'bench' }, responseTimeoutInSeconds: 30 });
  await closedLoop(METHODS_IN_FLIGHT, 1, callBare);
  histogram.reset();
  await closedLoop(METHODS_IN_FLIGHT, METHOD_SECONDS, callBare);
  await device.endAsync();
  await service.close();
  return { overhead, baseline: percentiles(histogram, 1e6) };
}

/** The connect phase with devices in worker processes (a second core for the fleet). */
async function connectWithWorkers(engine: EngineName, workers: number, targetSeconds: number): Promise<BenchRow> {
  const prefix = `bench-${engine}${workers}-`;
  await register(prefix);
  const fleet = await startFleet(config(engine, prefix, workers));
  const rampMs = await fleet.ramped;
  const c = fleet.stats().counters;
  const rss = fleet.hosts.map((h) => h.snapshot().memory?.rss ?? 0).reduce((a, b) => a + b, 0);
  await fleet.stop();
  return {
    metric: `${engine}: ${DEVICES} devices connected, ${workers} worker processes`,
    value: rampMs / 1000,
    unit: 's',
    target: `≤ ${targetSeconds}`,
    note: `${c.everConnected} connected, ${c.connectFailures} failed attempts, ${Math.round(c.everConnected / (rampMs / 1000))}/s; workers' RSS ${(rss / DEVICES / 1024).toFixed(0)} KB per device`,
  };
}

/** Bare TLS sockets to the emulator's MQTT port: memory per socket, and CPU per connection on each side. */
async function rawTlsBaseline(emulatorPid: number): Promise<{ kbPerSocket: number; clientCpuMs: number; hubCpuMs: number }> {
  const ca = readFileSync(`${process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR}/ca.pem`, 'utf8');
  const context = tls.createSecureContext({ ca: [...tls.rootCertificates, ca], maxVersion: 'TLSv1.2' });
  gc();
  const before = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const hubCpuBefore = cpuSeconds(emulatorPid);
  const sockets: tls.TLSSocket[] = [];
  let session: Buffer | undefined;
  for (let i = 0; i < TLS_BASELINE_SOCKETS; i += 100) {
    await Promise.all(
      Array.from(
        { length: 100 },
        () =>
          new Promise<void>((resolve, reject) => {
            // Resumed as the light engine resumes: the session set once, before the handshake.
            const socket = tls.connect({ host: HOST, port: 8883, secureContext: context });
            if (session) (socket as tls.TLSSocket & { setSession(s: Buffer): void }).setSession(session);
            socket.once('session', (s: Buffer) => (session = s));
            socket.once('secureConnect', () => resolve());
            socket.once('error', reject);
            sockets.push(socket);
          }),
      ),
    );
  }
  const cpu = process.cpuUsage(cpuBefore);
  const hubCpuMs = ((cpuSeconds(emulatorPid) - hubCpuBefore) * 1000) / TLS_BASELINE_SOCKETS;
  await new Promise((r) => setTimeout(r, 500));
  gc();
  const kbPerSocket = (process.memoryUsage().rss - before) / TLS_BASELINE_SOCKETS / 1024;
  for (const s of sockets) s.destroy();
  return { kbPerSocket, clientCpuMs: (cpu.user + cpu.system) / 1000 / TLS_BASELINE_SOCKETS, hubCpuMs };
}

async function closedLoop(inFlight: number, seconds: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) await op(next++);
    }),
  );
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function ms(value: number): string {
  return value.toFixed(2);
}

function us(milliseconds: number): string {
  return (milliseconds * 1000).toFixed(1);
}
