import iothub from 'azure-iothub';
import hdr from 'hdr-histogram-js';
import { readFileSync } from 'node:fs';
import { wellKnownPolicies } from '../emulator/identity/policies.js';
import { DEFAULT_TOKEN_TTL_SECONDS, defaultWorkers } from '../fleet/config.js';
import { deviceId, WHOLE } from '../fleet/device-range.js';
import { startFleet } from '../fleet/fleet.js';
import { errorCount } from '../fleet/runner/fleet-stats.js';
import { defaultScenario } from '../fleet/scenario/scenario.js';
import { startEmulatorProcess } from './support/emulator-process.js';
import type { Bench, BenchRow } from './support/harness.js';

const HOST = '127.0.0.206';
const DEVICES = Number(process.env.FLEET_SOAK_DEVICES ?? 18_000);
const MINUTES = Number(process.env.FLEET_SOAK_MINUTES ?? 5);
const CALLS_PER_SECOND = 20;
const SAMPLE_MS = 5_000;

const owner = wellKnownPolicies[0];
const connectionString = `HostName=${HOST};SharedAccessKeyName=${owner.keyName};SharedAccessKey=${owner.primaryKey}`;

/**
 * Opt-in (`npm run bench -- fleet-soak`): 18,000 light devices held for 5 minutes with the emulator
 * on the same machine, method calls and telemetry flowing. Both processes sit near the ~20,000
 * descriptors one process may open here.
 */
export const bench: Bench = {
  name: 'fleet-soak',
  description: `${DEVICES.toLocaleString('en-US')} light devices held for ${MINUTES} min next to the emulator`,
  async run() {
    if (!process.argv.slice(2).includes('fleet-soak')) {
      return [{ metric: 'skipped (opt-in: npm run bench -- fleet-soak)', value: 0, unit: '' }];
    }
    const emulator = await startEmulatorProcess(HOST, process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR!);
    const rows: BenchRow[] = [];
    try {
      const prefix = 'soak-';
      const fleet = await startFleet({
        connectionString,
        engine: 'light',
        devices: DEVICES,
        prefix,
        shard: WHOLE,
        workers: defaultWorkers(DEVICES),
        tokenTtlSeconds: DEFAULT_TOKEN_TTL_SECONDS,
        durationMs: 0,
        scenario: {
          ...defaultScenario,
          connect: { ...defaultScenario.connect, concurrency: 200 },
          telemetry: { ...defaultScenario.telemetry, interval: 60_000 },
        },
      });
      const rampMs = await fleet.ramped;
      const atRamp = fleet.stats().counters;

      // Calls at a steady rate while the fleet is held; latency as the back end sees it.
      const service = iothub.Client.fromConnectionString(connectionString);
      const latency = hdr.build({ numberOfSignificantValueDigits: 3 });
      let ok = 0;
      let failed = 0;
      let i = 0;
      const caller = setInterval(() => {
        const started = performance.now();
        service
          .invokeDeviceMethod(deviceId(prefix, (i++ * 7919) % DEVICES, DEVICES), { methodName: 'lockDoor', payload: {}, responseTimeoutInSeconds: 10 })
          .then(() => {
            ok++;
            latency.recordValue(Math.round((performance.now() - started) * 1000));
          })
          .catch(() => failed++);
      }, 1000 / CALLS_PER_SECOND);

      let minConnected = Infinity;
      let maxEmulatorRss = 0;
      let maxFleetRss = 0;
      const until = Date.now() + MINUTES * 60_000;
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
        minConnected = Math.min(minConnected, fleet.stats().counters.connected);
        maxEmulatorRss = Math.max(maxEmulatorRss, rssOf(emulator.process.pid!));
        maxFleetRss = Math.max(
          maxFleetRss,
          fleet.hosts.reduce((sum, h) => sum + (h.snapshot().memory?.rss ?? 0), 0),
        );
        process.stderr.write(`  ${new Date().toISOString()} connected ${fleet.stats().counters.connected}, calls ${ok} ok ${failed} failed\n`);
      }
      clearInterval(caller);
      await new Promise((r) => setTimeout(r, 2_000));
      await service.close();
      const end = fleet.stats().counters;
      const report = await fleet.stop();
      const mb = (bytes: number) => bytes / 1024 / 1024;
      rows.push(
        {
          metric: `connected ${DEVICES} (ramp)`,
          value: rampMs / 1000,
          unit: 's',
          note: `${atRamp.everConnected} connected, ${defaultWorkers(DEVICES)} worker processes`,
        },
        { metric: `fewest connected during ${MINUTES} min`, value: minConnected, unit: 'devices', target: `≥ ${DEVICES}` },
        { metric: 'connections lost', value: end.connectionsLost, unit: '', target: '≤ 0', note: `fleet errors ${errorCount(end)}` },
        {
          metric: 'method calls answered',
          value: ok,
          unit: 'calls',
          note: `${failed} failed; p50 ${(latency.getValueAtPercentile(50) / 1000).toFixed(2)} ms, p99 ${(latency.getValueAtPercentile(99) / 1000).toFixed(2)} ms`,
        },
        {
          metric: 'method-handling overhead in the fleet, p50',
          value: report.methods.handlingOverheadMs.p50 * 1000,
          unit: 'µs',
          target: '≤ 200',
          note: `p99 ${(report.methods.handlingOverheadMs.p99 * 1000).toFixed(1)} µs`,
        },
        { metric: 'telemetry messages', value: end.telemetrySent, unit: 'msgs', note: `${end.telemetryFailures} failed; one a minute per device` },
        { metric: 'emulator RSS (peak)', value: mb(maxEmulatorRss), unit: 'MB', note: `${(maxEmulatorRss / DEVICES / 1024).toFixed(0)} KB per device` },
        { metric: 'fleet workers RSS (peak)', value: mb(maxFleetRss), unit: 'MB', note: `${(maxFleetRss / DEVICES / 1024).toFixed(0)} KB per device` },
      );
    } finally {
      await emulator.stop();
    }
    return rows;
  },
};

function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}
