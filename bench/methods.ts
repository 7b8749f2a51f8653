import iothub from 'azure-iothub';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import hdr from 'hdr-histogram-js';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { createSasToken } from '../protocol/sas.js';
import { wellKnownPolicies } from '../emulator/identity/policies.js';
import { startEmulatorProcess } from './support/emulator-process.js';
import type { Bench, BenchRow } from './support/harness.js';
import { connectLeanDevices, disconnectAll } from './support/lean-devices.js';
import { provisionDevices, request } from './support/provision.js';

// Another loopback address may be given when a second checkout benchmarks on the same machine.
const HOST = process.env.IOTHUB_EMULATOR_BENCH_METHODS_HOST ?? '127.0.0.201';
const SEQUENTIAL_CALLS = 3000;
const FLEET = 1000;
const IN_FLIGHT = 64;
const THROUGHPUT_SECONDS = 10;

const owner = wellKnownPolicies[0];
const hubConnectionString = `HostName=${HOST};SharedAccessKeyName=${owner.keyName};SharedAccessKey=${owner.primaryKey}`;

export const bench: Bench = {
  name: 'methods',
  description: 'direct-method round trips through azure-iothub Client.invokeDeviceMethod',
  async run() {
    const certDir = process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR!;
    const ca = readFileSync(path.join(certDir, 'ca.pem'), 'utf8');
    const emulator = await startEmulatorProcess(HOST, certDir);
    const token = createSasToken(HOST, owner.primaryKey, Math.floor(Date.now() / 1000) + 7200, owner.keyName);
    const rows: BenchRow[] = [];
    try {
      const service = iothub.Client.fromConnectionString(hubConnectionString);

      const call = (id: string) => service.invokeDeviceMethod(id, { methodName: 'lockDoor', payload: { by: 'bench' }, responseTimeoutInSeconds: 30 });
      const [door, leanDoor] = await provisionDevices(HOST, token, ['bench-door', 'bench-door-lean']);

      // One lean device, sequential calls: the hub's own round trip (the device answers at once).
      const [lean] = await connectLeanDevices({ host: HOST, hostName: HOST, devices: [leanDoor], ca });
      const leanLatency = await sequential(() => call(leanDoor.deviceId));
      await disconnectAll([lean]);

      // A module identity on the lean device, called alternately with its device: the module
      // round trip beside the device's in the same loop (the machine's drift hits both alike).
      const moduleKey = (await request(HOST, token, 'PUT', `/devices/${leanDoor.deviceId}/modules/bench-module?api-version=2021-04-12`, { moduleId: 'bench-module' }) as { authentication: { symmetricKey: { primaryKey: string } } }).authentication.symmetricKey.primaryKey;
      const pair = await connectLeanDevices({ host: HOST, hostName: HOST, devices: [leanDoor, { deviceId: leanDoor.deviceId, moduleId: 'bench-module', key: moduleKey }], ca });
      const callModule = () => service.invokeDeviceMethod(leanDoor.deviceId, 'bench-module', { methodName: 'lockDoor', payload: { by: 'bench' }, responseTimeoutInSeconds: 30 });
      const [deviceSide, moduleSide] = await alternating(() => call(leanDoor.deviceId), callModule);
      await disconnectAll(pair);

      // One azure-iot-device device: the latency a tutorial user sees, device SDK included.
      const sdkDevice = device.Client.fromConnectionString(`HostName=${HOST};DeviceId=${door.deviceId};SharedAccessKey=${door.key}`, deviceMqtt.Mqtt);
      await sdkDevice.open();
      sdkDevice.onDeviceMethod('lockDoor', (_req, res) => res.send(200, { locked: true }));
      await new Promise((r) => setTimeout(r, 300));
      const sdkLatency = await sequential(() => call(door.deviceId));
      await sdkDevice.close();
      const health = await healthLatency();
      const sdkNote = `with an azure-iot-device device: p50 ${ms(sdkLatency.getValueAtPercentile(50))}, p99 ${ms(sdkLatency.getValueAtPercentile(99))} ms`;
      rows.push(
        { metric: 'sequential round trip p50', value: leanLatency.getValueAtPercentile(50) / 1000, unit: 'ms', target: '≤ 1.5', baseline: health.p50, note: `baseline: HTTPS GET /health p50, same agent; ${sdkNote}` },
        { metric: 'sequential round trip p99', value: leanLatency.getValueAtPercentile(99) / 1000, unit: 'ms', target: '≤ 5', baseline: health.p99, note: 'baseline: HTTPS GET /health p99' },
        {
          metric: 'module method round trip p50',
          value: moduleSide.getValueAtPercentile(50) / 1000,
          unit: 'ms',
          baseline: deviceSide.getValueAtPercentile(50) / 1000,
          note: `baseline: its device's round trip p50, calls alternating in one loop; module p99 ${ms(moduleSide.getValueAtPercentile(99))}, device p99 ${ms(deviceSide.getValueAtPercentile(99))} ms`,
        },
        {
          metric: 'module / device round trip p50',
          value: moduleSide.getValueAtPercentile(50) / deviceSide.getValueAtPercentile(50),
          unit: '×',
          target: '≤ 1.1',
          note: 'within 10 % of a device method',
        },
      );

      // 1,000 lean devices, 64 calls in flight: the hub's method throughput.
      const ids = Array.from({ length: FLEET }, (_, i) => `bench-m-${String(i).padStart(5, '0')}`);
      const credentials = await provisionDevices(HOST, token, ids);
      const fleet = await connectLeanDevices({ host: HOST, hostName: HOST, devices: credentials, ca });
      await new Promise((r) => setTimeout(r, 500));
      const hubCpuBefore = cpuSeconds(emulator.process.pid!);
      const benchCpuBefore = process.cpuUsage();
      const throughput = await closedLoop(IN_FLIGHT, THROUGHPUT_SECONDS, (i) => call(ids[i % FLEET]));
      const benchCpu = process.cpuUsage(benchCpuBefore);
      const hubCpu = cpuSeconds(emulator.process.pid!) - hubCpuBefore;
      const cpuShare = `emulator ${((hubCpu / THROUGHPUT_SECONDS) * 100).toFixed(0)}% of a core (${((hubCpu * 1000) / (throughput * THROUGHPUT_SECONDS)).toFixed(3)} ms CPU per call), bench process (service SDK + devices) ${((benchCpu.user + benchCpu.system) / 1e6 / THROUGHPUT_SECONDS * 100).toFixed(0)}%`;
      const healthThroughput = await closedLoop(IN_FLIGHT, 3, () => getHealth());
      await disconnectAll(fleet);
      rows.push({ metric: `calls/s over ${FLEET} devices, ${IN_FLIGHT} in flight`, value: throughput, unit: 'calls/s', target: '≥ 3000', baseline: healthThroughput, note: `baseline: GET /health at 64 in flight; ${cpuShare}` });
    } finally {
      await emulator.stop();
    }
    return rows;
  },
};

/** CPU seconds a process has used so far (Linux /proc), to show which side of a loop is busy. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Warm up, then time calls one after another (microsecond histogram). */
async function sequential(op: () => Promise<unknown>): Promise<ReturnType<typeof hdr.build>> {
  for (let i = 0; i < 200; i++) await op();
  const latency = hdr.build({ numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < SEQUENTIAL_CALLS; i++) {
    const t0 = performance.now();
    await op();
    latency.recordValue(Math.round((performance.now() - t0) * 1000));
  }
  return latency;
}

/** Two operations called in turn (after a warm-up), each into its own histogram. */
async function alternating(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[ReturnType<typeof hdr.build>, ReturnType<typeof hdr.build>]> {
  for (let i = 0; i < 200; i++) await (i % 2 === 0 ? a() : b());
  const ha = hdr.build({ numberOfSignificantValueDigits: 3 });
  const hb = hdr.build({ numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < SEQUENTIAL_CALLS; i++) {
    const [op, h] = i % 2 === 0 ? [a, ha] : [b, hb];
    const t0 = performance.now();
    await op();
    h.recordValue(Math.round((performance.now() - t0) * 1000));
  }
  return [ha, hb];
}

const ms = (microseconds: number): string => (microseconds / 1000).toFixed(2);

async function closedLoop(inFlight: number, seconds: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  let next = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        await op(next++);
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

const agent = new https.Agent({ keepAlive: true });
function getHealth(): Promise<void> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: HOST, port: 443, path: '/health', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      })
      .on('error', reject);
  });
}

async function healthLatency(): Promise<{ p50: number; p99: number }> {
  const h = hdr.build({ numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    await getHealth();
    h.recordValue(Math.round((performance.now() - t0) * 1000));
  }
  return { p50: h.getValueAtPercentile(50) / 1000, p99: h.getValueAtPercentile(99) / 1000 };
}
