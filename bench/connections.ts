import iothub from 'azure-iothub';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { wellKnownPolicies } from '../emulator/identity/policies.js';
import { createSasToken } from '../protocol/sas.js';
import { cpuSeconds } from './support/floor-compare.js';
import type { Bench, BenchRow } from './support/harness.js';
import type { MqttClient } from 'mqtt';
import tls from 'node:tls';
import { DESIRED_FILTER, METHODS_FILTER, reportedPatchTopic, TWIN_RESPONSE_FILTER, twinGetTopic } from '../protocol/topics.js';
import { closeAll, connectDevices, registerConnectingDevices, startOnDisk, twinCall } from './support/mqtt-devices.js';
import { type AedesExchangeFloor, startAedesExchangeFloor } from './support/aedes-exchange-floor.js';
import type { FloorProcess } from './support/floor-process.js';
import { type ExchangeAnswers, startExchangeFloor } from './support/tls-exchange-floor.js';
import { measureTlsFloor, settle } from './support/tls-floor.js';

const HOST = '127.0.0.216';
/** The bare TLS server carrying the same exchange (tls-exchange-floor.ts), beside the emulator's 8883. */
const EXCHANGE_PORT = 18883;
/** Devices per round of the CPU-per-connection figure (connect, subscribe, twin GET, reported PATCH). */
const CONNECTS = Number(process.env.BENCH_CONNECTIONS_CONNECTS ?? 2_000);
/** Rounds of floor + connections, alternating, so both sides see the same load; the table shows medians. */
const ROUNDS = Number(process.env.BENCH_CONNECTIONS_ROUNDS ?? 3);
/** Connected-device counts whose mass disconnect is measured (linear in N is the target). */
const DISCONNECTS = (process.env.BENCH_CONNECTIONS_DISCONNECTS ?? '1000,2000,4000,10000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
/**
 * Devices that connect and exchange on each server (the floors and the emulator) before the first
 * round, then drop: a round's worth, so the first round measures a process whose JIT and heap have
 * already seen a connect storm, as the later rounds do.
 */
const WARM_UP = Number(process.env.BENCH_CONNECTIONS_WARM_UP ?? CONNECTS);
/** With BENCH_CONNECTIONS_IN_MEMORY=1 the emulator runs --in-memory: what the on-disk store adds to a connection. */
const IN_MEMORY = process.env.BENCH_CONNECTIONS_IN_MEMORY === '1';
/**
 * With BENCH_CONNECTIONS_AEDES_FLOOR=1 each round also measures bare aedes carrying the same
 * exchange (aedes-exchange-floor.ts): what of the emulator's cost above bare TLS is the MQTT library's.
 */
const AEDES_FLOOR = process.env.BENCH_CONNECTIONS_AEDES_FLOOR === '1';
/** The bare aedes floor's port, beside the exchange floor's. */
const AEDES_PORT = 18884;
const owner = wellKnownPolicies[0]!;
/**
 * Phase boundaries on the monotonic clock (µs: a CPU profile's own time base, and what a per-thread
 * sampler of /proc reads), to slice a profile or a sample log by phase; on under --cpu-prof.
 */
const marking = (process.env.IOTHUB_EMULATOR_BENCH_NODE_ARGS ?? '').includes('--cpu-prof') || process.env.IOTHUB_EMULATOR_BENCH_MARKS === '1';
const mark = (phase: string): void => {
  if (marking) console.log(`  phase ${phase} at ${process.hrtime.bigint() / 1000n} µs`);
};
const connectionString = `HostName=${HOST};SharedAccessKeyName=${owner.keyName};SharedAccessKey=${owner.primaryKey}`;

/**
 * Issue 15 item 3 on its own, without 100,000 registrations: the emulator's CPU per MQTT/TLS
 * connection beside two floors (ROUNDS alternating rounds, the median of each side and of the
 * per-round ratio): a bare resumed TLS handshake to the same port, and a bare TLS server carrying
 * the same conversation (the same client code, the emulator's own answer bytes, answered packet by
 * packet: the TLS and kernel cost of the exchange), each server warmed first by a round's worth of
 * devices. Then its CPU for N disconnects at growing N beside closing as many bare TLS sockets.
 * The same figures as the connection rows of `bench -- scale`, on a data directory on disk, as
 * users run the hub (BENCH_CONNECTIONS_IN_MEMORY=1: --in-memory).
 */
export const bench: Bench = {
  name: 'connections',
  description: `MQTT/TLS connections and mass disconnects (${IN_MEMORY ? 'in memory' : 'on disk'}), ${ROUNDS} rounds, load average ${os.loadavg()[0]!.toFixed(1)} at start`,
  async run() {
    const certDir = process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR!;
    const caPath = path.join(certDir, 'ca.pem');
    const ca = readFileSync(caPath, 'utf8');
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-bench-connections-'));
    const emulator = await startOnDisk(HOST, dataDir, certDir, IN_MEMORY ? ['--in-memory'] : []);
    // The floor processes, stopped however the run ends (each holds a port of HOST).
    const floors: FloorProcess[] = [];
    try {
      const token = createSasToken(HOST, owner.primaryKey, Math.floor(Date.now() / 1000) + 7200, owner.keyName);
      const registry = iothub.Registry.fromConnectionString(connectionString);
      // Each round connects devices never seen before (new sessions); the disconnect phases reuse the first ids.
      // Past the ids the rounds use: the probe whose answers the exchange floor repeats, then the
      // devices that warm the emulator's MQTT path.
      const probeIndex = Math.max(ROUNDS * CONNECTS, ...DISCONNECTS);
      await registerConnectingDevices(registry, probeIndex + 1 + WARM_UP);
      const answers = await probeAnswers(ca, probeIndex);
      const exchange = await startExchangeFloor(HOST, EXCHANGE_PORT, certDir, answers);
      floors.push(exchange);
      const exchangeSession = await resumableSession(ca, EXCHANGE_PORT);
      // Every server gets the same warm-up before the first round (the same exchange, resumed, then
      // dropped): a fresh floor process has run nothing yet, and registration and one probe device
      // leave the emulator's connect path cold, which made its first round the dearest.
      await dropAll(await connectDevices(HOST, ca, exchangeSession, WARM_UP, true, 0, EXCHANGE_PORT));
      const aedes = AEDES_FLOOR ? await startAedesFloor(ca, certDir, answers, floors) : undefined;
      const warmUp = await connectDevices(HOST, ca, await resumableSession(ca, 8883), WARM_UP, true, probeIndex + 1);
      await closeAll(HOST, warmUp, emulator.pid, token);
      await settle(emulator.pid);

      const rounds: { floorMs: number; exchangeMs: number; aedesMs: number | undefined; connectMs: number; perSecond: number }[] = [];
      const closeFloors: number[] = [];
      let session: Buffer | undefined;
      for (let r = 0; r < ROUNDS; r++) {
        const floor = await measureTlsFloor(HOST, 8883, caPath, emulator.pid, CONNECTS);
        session = floor.session;
        closeFloors.push(floor.closeCpuMs);
        await settle(emulator.pid);
        const exchangeMs = await floorRound(exchange.pid, ca, exchangeSession, EXCHANGE_PORT, r * CONNECTS, `exchange-${r + 1}`);
        const aedesMs = aedes ? await floorRound(aedes.floor.pid, ca, aedes.session, AEDES_PORT, r * CONNECTS, `aedes-${r + 1}`) : undefined;
        await settle(emulator.pid);
        const before = cpuSeconds(emulator.pid);
        const t0 = performance.now();
        mark(`connect-${r + 1}-start`);
        const devices = await connectDevices(HOST, ca, session, CONNECTS, true, r * CONNECTS);
        mark(`connect-${r + 1}-end`);
        const seconds = (performance.now() - t0) / 1000;
        const connectMs = ((cpuSeconds(emulator.pid) - before) * 1000) / CONNECTS;
        rounds.push({ floorMs: floor.connectCpuMs, exchangeMs, aedesMs, connectMs, perSecond: CONNECTS / seconds });
        console.log(
          `  round ${r + 1}: ${connectMs.toFixed(2)} ms per connection; floors: handshake ${floor.connectCpuMs.toFixed(2)} ms (${(connectMs / floor.connectCpuMs).toFixed(2)}×), same exchange over bare TLS ${exchangeMs.toFixed(2)} ms (${(connectMs / exchangeMs).toFixed(2)}×)` +
            (aedesMs === undefined
              ? ''
              : `, over bare aedes ${aedesMs.toFixed(2)} ms (${(connectMs / aedesMs).toFixed(2)}×; aedes ${(aedesMs / exchangeMs).toFixed(2)}× bare TLS)`),
        );
        await closeAll(HOST, devices, emulator.pid, token);
      }
      for (const floor of floors.splice(0)) await floor.stop();

      const disconnects: { n: number; cpuSeconds: number }[] = [];
      for (const n of DISCONNECTS) {
        const devices = await connectDevices(HOST, ca, session, n, false);
        await settle(emulator.pid);
        mark(`disconnect-${n}-start`);
        disconnects.push({ n, cpuSeconds: await closeAll(HOST, devices, emulator.pid, token) });
        mark(`disconnect-${n}-end`);
        console.log(`  ${n} disconnects: ${disconnects.at(-1)!.cpuSeconds.toFixed(2)} s of emulator CPU`);
      }

      const closeFloorMs = median(closeFloors);
      const rows: BenchRow[] = [
        {
          metric: `emulator CPU per MQTT/TLS connection (${CONNECTS}: connect, subscribe ×3, twin GET, reported PATCH), median of ${ROUNDS}`,
          value: median(rounds.map((r) => r.connectMs)),
          unit: 'ms',
          target: '≤ 1.5×',
          baseline: median(rounds.map((r) => r.floorMs)),
          note: `baseline: a bare TLS handshake (resumed) to the same port, alternating rounds; per-round ratios ${rounds.map((r) => (r.connectMs / r.floorMs).toFixed(2)).join(' / ')}× (median ${median(rounds.map((r) => r.connectMs / r.floorMs)).toFixed(2)}×); ${Math.round(median(rounds.map((r) => r.perSecond)))} connects/s with 100 in flight`,
        },
        {
          metric: `the same beside bare TLS carrying the same exchange, median of ${ROUNDS}`,
          value: median(rounds.map((r) => r.connectMs)),
          unit: 'ms',
          target: '≤ 1.5×',
          baseline: median(rounds.map((r) => r.exchangeMs)),
          note: `baseline: a bare Node TLS server (own process, no MQTT library, broker, auth or store) reading the same packets from the same client code and answering each with the emulator's answer bytes; per-round ratios ${rounds.map((r) => (r.connectMs / r.exchangeMs).toFixed(2)).join(' / ')}× (median ${median(rounds.map((r) => r.connectMs / r.exchangeMs)).toFixed(2)}×)`,
        },
        ...(aedes
          ? [
              {
                metric: `the same beside bare aedes carrying the same exchange, median of ${ROUNDS}`,
                value: median(rounds.map((r) => r.connectMs)),
                unit: 'ms',
                baseline: median(rounds.map((r) => r.aedesMs!)),
                note: `baseline: aedes with its defaults behind the same TLS listener options (own process, no auth, hub or store) answering the twin calls with the same bytes; per-round ratios ${rounds.map((r) => (r.connectMs / r.aedesMs!).toFixed(2)).join(' / ')}×; bare aedes over bare TLS ${rounds.map((r) => (r.aedesMs! / r.exchangeMs).toFixed(2)).join(' / ')}×`,
              },
            ]
          : []),
        ...disconnects.map(({ n, cpuSeconds: s }) => ({
          metric: `emulator CPU for ${n} disconnects`,
          value: s,
          unit: 's',
          ...(n === 10_000 ? { target: '≤ 0.3' } : {}),
          baseline: (closeFloorMs * n) / 1000,
          note: `${((s * 1e6) / n).toFixed(0)} µs per disconnect; baseline: closing ${n} bare TLS sockets (median floor per socket × N)`,
        })),
      ];
      if (disconnects.length >= 2) {
        const first = disconnects[0]!;
        const last = disconnects.at(-1)!;
        rows.push({
          metric: `growth per disconnect from ${first.n} to ${last.n}`,
          value: last.cpuSeconds / last.n / (first.cpuSeconds / first.n),
          unit: '×',
          target: '≤ 1.5',
          note: 'CPU per disconnect at the largest N over that at the smallest: 1 is linear in N, N-fold is quadratic',
        });
      }
      return rows;
    } finally {
      for (const floor of floors) await floor.stop();
      await emulator.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

/** Connects one device to the emulator as a round does and keeps what the emulator answers it with. */
async function probeAnswers(ca: string, index: number): Promise<ExchangeAnswers> {
  const [client] = await connectDevices(HOST, ca, undefined, 1, false, index);
  try {
    const granted = await client!.subscribeAsync([METHODS_FILTER, TWIN_RESPONSE_FILTER, DESIRED_FILTER], { qos: 0 });
    const get = await twinCall(client!, twinGetTopic('1'), '', '1');
    const patch = await twinCall(client!, reportedPatchTopic('2'), JSON.stringify({ temperature: 20 }), '2');
    return { getTopic: get.topic, getBody: get.body, patchTopic: patch.topic, grants: granted.map((g) => g.qos) };
  } finally {
    await client!.endAsync(true);
  }
}

/** CPU ms per connection of a floor process carrying a round's exchange; its devices are dropped after. */
async function floorRound(pid: number, ca: string, session: Buffer, port: number, first: number, phase: string): Promise<number> {
  await settle(pid);
  const before = cpuSeconds(pid);
  mark(`${phase}-start`);
  const devices = await connectDevices(HOST, ca, session, CONNECTS, true, first, port);
  mark(`${phase}-end`);
  const ms = ((cpuSeconds(pid) - before) * 1000) / CONNECTS;
  await dropAll(devices);
  await settle(pid);
  return ms;
}

/** The bare aedes floor (added to `floors`), warmed as the others are, with a session to resume against it. */
async function startAedesFloor(
  ca: string,
  certDir: string,
  answers: ExchangeAnswers,
  floors: FloorProcess[],
): Promise<{ floor: AedesExchangeFloor; session: Buffer }> {
  const floor = await startAedesExchangeFloor(HOST, AEDES_PORT, certDir, answers);
  floors.push(floor);
  const session = await resumableSession(ca, AEDES_PORT);
  await dropAll(await connectDevices(HOST, ca, session, WARM_UP, true, 0, AEDES_PORT));
  return { floor, session };
}

/** A TLS 1.2 session of the server on `port`, so devices resume against it as a round's do. */
function resumableSession(ca: string, port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: HOST, port, ca, maxVersion: 'TLSv1.2' });
    socket.once('session', (s: Buffer) => {
      resolve(s);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

async function dropAll(clients: MqttClient[]): Promise<void> {
  for (const c of clients) c.stream.destroy();
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
