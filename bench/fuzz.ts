import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { runFuzz } from './fuzz/runner.js';
import { HttpWire } from './fuzz/http-wire.js';
import { startEmulatorProcess } from './support/emulator-process.js';
import type { Bench, BenchRow } from './support/harness.js';

/** A loopback address whose port 443 nobody holds (other runs on this machine may hold some). */
async function freeLoopbackAddress(): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const host = `127.0.0.${200 + Math.floor(Math.random() * 50)}`;
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(443, host, () => probe.close(() => resolve(true)));
    });
    if (free) return host;
  }
  throw new Error('no free loopback address for the fuzz run');
}

/**
 * The long run of the fuzz suite (bench/fuzz/runner.ts; `npm test` runs a short one with a fixed
 * seed). IOTHUB_EMULATOR_FUZZ_SEED repeats a run; IOTHUB_EMULATOR_FUZZ_BATCHES sets its length.
 * Prints every finding with what reproduces it; the floor is the same wire's GET /health rate.
 */
export const bench: Bench = {
  name: 'fuzz',
  description: 'seeded MQTT, REST and query inputs; invariants after every batch',
  async run() {
    const certDir = process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR!;
    const ca = readFileSync(path.join(certDir, 'ca.pem'), 'utf8');
    const seed = Number(process.env.IOTHUB_EMULATOR_FUZZ_SEED ?? Date.now() % 2 ** 31);
    const batches = Number(process.env.IOTHUB_EMULATOR_FUZZ_BATCHES ?? 20);
    const HOST = await freeLoopbackAddress();
    const emulator = await startEmulatorProcess(HOST, certDir, ['--mqtt-plain-port', '1883', '--tls-handshake-timeout', '2']);
    const child = emulator.process;
    const target = {
      host: HOST,
      hostName: HOST,
      ca,
      httpsPort: 443,
      mqttPort: 8883,
      plainPort: 1883,
      pid: child.pid!,
      alive: () => child.exitCode === null && child.signalCode === null,
    };
    try {
      // The floor: GET /health, each on its own resumed TLS connection, as every REST input is sent.
      const wire = new HttpWire(target);
      const health = Buffer.from(`GET /health HTTP/1.1\r\nhost: ${HOST}\r\nconnection: close\r\n\r\n`);
      const floorStarted = performance.now();
      for (let i = 0; i < 300; i++) await wire.send(health);
      const floorPerSecond = 300 / ((performance.now() - floorStarted) / 1000);

      console.log(`seed ${seed}, ${batches} batches (IOTHUB_EMULATOR_FUZZ_SEED=${seed} repeats this run)`);
      const report = await runFuzz(target, {
        seed,
        batches,
        mqttPerBatch: 100,
        restPerBatch: 300,
        queryPerBatch: 150,
        log: (line) => console.log(`  ${line}`),
      });
      const total = report.inputs.mqtt + report.inputs.rest + report.inputs.query;
      console.log(report.findings.length ? `\n${report.findings.length} finding(s):` : '\nno findings');
      for (const f of report.findings) console.log(`  [batch ${f.batch}] ${f.kind}: ${f.detail}\n      reproduce: ${f.reproduce}`);
      const rows: BenchRow[] = [
        { metric: 'MQTT inputs tried', value: report.inputs.mqtt, unit: 'cases', note: 'valid-then-mutated packets over TCP, TLS and WebSocket' },
        { metric: 'REST inputs tried', value: report.inputs.rest, unit: 'requests', note: 'every route, any method, headers, bodies (incl. shrinking)' },
        { metric: 'query inputs tried', value: report.inputs.query, unit: 'queries' },
        { metric: 'findings', value: report.findings.length, unit: 'count', target: '≤ 0', note: `seed ${seed}` },
        {
          metric: 'inputs per second',
          value: total / (report.durationMs / 1000),
          unit: '/s',
          baseline: floorPerSecond,
          note: 'baseline: GET /health on the same wire; the runs include the invariant checks',
        },
        { metric: 'descriptors after a batch, peak', value: report.peak.descriptors, unit: 'fds', baseline: report.baseline.descriptors },
        { metric: 'resident memory, peak', value: report.peak.rssMb, unit: 'MB', baseline: report.baseline.rssMb },
      ];
      return rows;
    } finally {
      await emulator.stop();
    }
  },
};
