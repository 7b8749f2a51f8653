import iothub from 'azure-iothub';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { wellKnownPolicies } from '../emulator/identity/policies.js';
import { createSasToken } from '../protocol/sas.js';
import { cpuSeconds } from './support/floor-compare.js';
import type { Bench, BenchRow } from './support/harness.js';
import { closeAll, connectDevices, registerConnectingDevices, startOnDisk } from './support/mqtt-devices.js';
import { measureTlsFloor, settle } from './support/tls-floor.js';

const HOST = '127.0.0.216';
/** Devices per round of the CPU-per-connection figure (connect, subscribe, twin GET, reported PATCH). */
const CONNECTS = Number(process.env.BENCH_CONNECTIONS_CONNECTS ?? 2_000);
/** Rounds of floor + connections, alternating, so both sides see the same load; the table shows medians. */
const ROUNDS = Number(process.env.BENCH_CONNECTIONS_ROUNDS ?? 3);
/** Connected-device counts whose mass disconnect is measured (linear in N is the target). */
const DISCONNECTS = (process.env.BENCH_CONNECTIONS_DISCONNECTS ?? '1000,2000,4000,10000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const owner = wellKnownPolicies[0]!;
/** With the emulator under --cpu-prof, phase boundaries on the monotonic clock (µs, the profile's own time base), to slice it. */
const profiling = (process.env.IOTHUB_EMULATOR_BENCH_NODE_ARGS ?? '').includes('--cpu-prof');
const mark = (phase: string): void => {
  if (profiling) console.log(`  phase ${phase} at ${process.hrtime.bigint() / 1000n} µs`);
};
const connectionString = `HostName=${HOST};SharedAccessKeyName=${owner.keyName};SharedAccessKey=${owner.primaryKey}`;

/**
 * Issue 15 item 3 on its own, without 100,000 registrations: the emulator's CPU per MQTT/TLS
 * connection beside a bare resumed TLS handshake to the same port (ROUNDS alternating rounds, the
 * median of each side and of the per-round ratio), and its CPU for N disconnects at growing N beside
 * closing as many bare TLS sockets. The same figures as the connection rows of `bench -- scale`,
 * on a data directory on disk, as users run the hub.
 */
export const bench: Bench = {
  name: 'connections',
  description: `MQTT/TLS connections and mass disconnects (on disk), ${ROUNDS} rounds, load average ${os.loadavg()[0]!.toFixed(1)} at start`,
  async run() {
    const certDir = process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR!;
    const caPath = path.join(certDir, 'ca.pem');
    const ca = readFileSync(caPath, 'utf8');
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-bench-connections-'));
    const emulator = await startOnDisk(HOST, dataDir, certDir);
    try {
      const token = createSasToken(HOST, owner.primaryKey, Math.floor(Date.now() / 1000) + 7200, owner.keyName);
      const registry = iothub.Registry.fromConnectionString(connectionString);
      // Each round connects devices never seen before (new sessions); the disconnect phases reuse the first ids.
      await registerConnectingDevices(registry, Math.max(ROUNDS * CONNECTS, ...DISCONNECTS));
      await settle(emulator.pid);

      const rounds: { floorMs: number; connectMs: number; perSecond: number }[] = [];
      const closeFloors: number[] = [];
      let session: Buffer | undefined;
      for (let r = 0; r < ROUNDS; r++) {
        const floor = await measureTlsFloor(HOST, 8883, caPath, emulator.pid, CONNECTS);
        session = floor.session;
        closeFloors.push(floor.closeCpuMs);
        await settle(emulator.pid);
        const before = cpuSeconds(emulator.pid);
        const t0 = performance.now();
        mark(`connect-${r + 1}-start`);
        const devices = await connectDevices(HOST, ca, session, CONNECTS, true, r * CONNECTS);
        mark(`connect-${r + 1}-end`);
        const seconds = (performance.now() - t0) / 1000;
        const connectMs = ((cpuSeconds(emulator.pid) - before) * 1000) / CONNECTS;
        rounds.push({ floorMs: floor.connectCpuMs, connectMs, perSecond: CONNECTS / seconds });
        console.log(
          `  round ${r + 1}: ${connectMs.toFixed(2)} ms per connection, floor ${floor.connectCpuMs.toFixed(2)} ms (${(connectMs / floor.connectCpuMs).toFixed(2)}×)`,
        );
        await closeAll(HOST, devices, emulator.pid, token);
      }

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
      await emulator.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
