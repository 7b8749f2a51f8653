import iothub from 'azure-iothub';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { wellKnownPolicies } from '../emulator/identity/policies.js';
import { cpuSeconds } from './support/floor-compare.js';
import type { Bench, BenchRow } from './support/harness.js';
import { startOnDisk } from './support/mqtt-devices.js';
import { addDevicesInBulk, registrationFloor } from './support/registration-floor.js';
import { settle } from './support/tls-floor.js';

const HOST = '127.0.0.217';
/** Devices registered per round, each into an empty hub on disk. */
const DEVICES = Number(process.env.BENCH_REGISTER_DEVICES ?? 100_000);
const ROUNDS = Number(process.env.IOTHUB_EMULATOR_BENCH_ROUNDS ?? 3);
const owner = wellKnownPolicies[0]!;
const connectionString = `HostName=${HOST};SharedAccessKeyName=${owner.keyName};SharedAccessKey=${owner.primaryKey}`;

/**
 * Issue 15 item 1 alone: bulk registration through Registry.addDevices (100 per call, 8 in
 * flight, the scale bench's small-twin devices) into an empty hub on disk, beside the same calls
 * answered by a bare HTTPS server, alternating emulator and floor in each round. A fresh data
 * directory per round, so each registers into an empty registry as the scale bench does.
 * IOTHUB_EMULATOR_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' profiles the emulator.
 */
export const bench: Bench = {
  name: 'register',
  description: `${DEVICES.toLocaleString('en')} devices per round, ${ROUNDS} rounds, load average ${os.loadavg()[0]!.toFixed(1)} at start`,
  async run() {
    const certDir = process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR!;
    const registry = iothub.Registry.fromConnectionString(connectionString);
    const rounds: { rate: number; cpuUs: number; floor: number; floorCpuUs: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-bench-register-'));
      try {
        const emulator = await startOnDisk(HOST, dataDir, certDir);
        // The certificate as the emulator just made it for HOST (the shared directory may be rewritten by another bench).
        const serverTls = { key: readFileSync(path.join(certDir, 'server-key.pem')), cert: readFileSync(path.join(certDir, 'server.pem')) };
        let rate: number;
        let cpuUs: number;
        try {
          await settle(emulator.pid);
          const cpuBefore = cpuSeconds(emulator.pid);
          const t0 = performance.now();
          await addDevicesInBulk(registry, 0, DEVICES);
          const seconds = (performance.now() - t0) / 1000;
          cpuUs = ((cpuSeconds(emulator.pid) - cpuBefore) * 1e6) / DEVICES;
          rate = DEVICES / seconds;
        } finally {
          await emulator.stop();
        }
        const { rate: floor, serverCpuUs: floorCpuUs } = await registrationFloor(HOST, serverTls, registry, DEVICES);
        rounds.push({ rate, cpuUs, floor, floorCpuUs });
        console.log(
          `  round ${round + 1}: ${Math.round(rate)} devices/s, ${cpuUs.toFixed(1)} µs of emulator CPU a device; floor ${Math.round(floor)} devices/s, ${floorCpuUs.toFixed(1)} µs of its server's CPU`,
        );
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
    const median = (values: number[]): number => {
      const sorted = [...values].sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    };
    const rows: BenchRow[] = [
      {
        metric: `register ${DEVICES} devices (Registry.addDevices, 100 per call, 8 in flight)`,
        value: median(rounds.map((r) => r.rate)),
        unit: 'devices/s',
        target: '≥ 20000',
        baseline: median(rounds.map((r) => r.floor)),
        ratio: median(rounds.map((r) => r.rate / r.floor)),
        note: `median of ${ROUNDS} rounds; baseline: the same calls answered by a bare HTTPS server (the SDK, TLS and HTTP alone), same rounds`,
      },
      {
        metric: 'emulator CPU per bulk-registered device',
        value: median(rounds.map((r) => r.cpuUs)),
        unit: 'µs',
        target: '≤ 15',
        baseline: median(rounds.map((r) => r.floorCpuUs)),
        ratio: median(rounds.map((r) => r.cpuUs / r.floorCpuUs)),
        note: `median of ${ROUNDS} rounds (${rounds.map((r) => r.cpuUs.toFixed(1)).join(', ')}); baseline: the bare HTTPS server's CPU per device for the same calls (its TLS and HTTP)`,
      },
    ];
    return rows;
  },
};
