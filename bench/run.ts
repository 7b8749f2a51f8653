import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadOrCreateCredentials } from '../emulator/tls/certificates.js';
import { formatTable, meetsTarget, type Bench, type BenchRow } from './support/harness.js';

// Each benchmark registers here; `npm run bench -- <name>…` runs a subset.
const registry: Record<string, () => Promise<{ bench: Bench }>> = {
  methods: () => import('./methods.js'),
  twins: () => import('./twins.js'),
  jobs: () => import('./jobs.js'),
  query: () => import('./query.js'),
  'query-index': () => import('./query-index.js'), // issue 15's query figures over 1,000,000 twins, in process; BENCH_QUERY_INDEX_DEVICES
  configurations: () => import('./configurations.js'),
  fleet: () => import('./fleet.js'),
  dashboard: () => import('./dashboard.js'),
  c2d: () => import('./c2d.js'),
  telemetry: () => import('./telemetry.js'),
  throttle: () => import('./throttle.js'),
  'module-amqp': () => import('./module-amqp.js'),
  register: () => import('./register.js'), // opt-in: issue 15 item 1 alone (bulk registration beside its floor); BENCH_REGISTER_DEVICES
  scale: () => import('./scale.js'), // issue 15's figures; BENCH_SCALE_DEVICES (default 100,000)
  'index-build': () => import('./index-build.js'), // opt-in: what the background build of declared query indexes reads, in process; BENCH_INDEX_BUILD_DEVICES
  'twin-job': () => import('./twin-job.js'), // opt-in: issue 15's twin-update job alone, in process; BENCH_TWIN_JOB_DEVICES
  connections: () => import('./connections.js'), // opt-in: issue 15 item 3 alone (CPU per connection, mass disconnect)
  'fleet-soak': () => import('./fleet-soak.js'), // opt-in: 18,000 devices for 5 minutes
  fuzz: () => import('./fuzz.js'), // opt-in: the long fuzz run (issue 17)
};
const OPT_IN = new Set(['register', 'fleet-soak', 'fuzz', 'scale', 'query-index', 'connections', 'twin-job', 'index-build']);

const certDir = path.join(os.tmpdir(), 'iothub-emulator-bench-certs');

const HELP = `npm run bench -- [NAME…]   (default: every benchmark but the opt-in ones)

Benchmarks: ${Object.keys(registry)
  .map((n) => (OPT_IN.has(n) ? `${n} (opt-in)` : n))
  .join(', ')}

Settings shared by the benchmarks that start an emulator beside a floor (environment):
  IOTHUB_EMULATOR_BENCH_ROUNDS=N             floor comparisons per path (methods, twins; default 3)
  IOTHUB_EMULATOR_BENCH_NODE_ARGS="…"        Node flags of the emulator's process (--cpu-prof, --trace-gc, --inspect)
  IOTHUB_EMULATOR_BENCH_FLOOR_NODE_ARGS="…"  the same for every floor's process
  IOTHUB_EMULATOR_BENCH_STDOUT=FILE          append the emulator's stdout to FILE (e.g. --trace-gc output; default: dropped)
  IOTHUB_EMULATOR_BENCH_TAIL=1               print each round's latency percentiles per side
  IOTHUB_EMULATOR_BENCH_MARKS=1              connections: print each phase's start and end (monotonic µs; also under --cpu-prof)
  IOTHUB_EMULATOR_BENCH_ON_DISK=1            the emulator on a data directory instead of --in-memory
A benchmark's own sizes (BENCH_…) are named at the top of its file in bench/; docs/performance.md
says how the floors are measured.`;

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(HELP);
    return;
  }
  const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const selected = names.length ? names : Object.keys(registry).filter((n) => !OPT_IN.has(n));
  const unknown = selected.filter((n) => !registry[n]);
  if (unknown.length) throw new Error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(registry).join(', ')}`);

  // A child runs one benchmark and hands its rows back in a file.
  const rowsFile = process.env.IOTHUB_EMULATOR_BENCH_ROWS;
  if (rowsFile) {
    const { bench } = await registry[selected[0]]();
    console.log(`\n▶ ${bench.name}: ${bench.description}`);
    const rows = await bench.run();
    writeFileSync(rowsFile, JSON.stringify({ title: `${bench.name} — ${bench.description}`, rows }));
    return;
  }

  // Each benchmark runs in a fresh process: the SDKs read NODE_EXTRA_CA_CERTS only at process
  // start, and memory and descriptor figures must not inherit what an earlier benchmark left.
  const { caPath } = await loadOrCreateCredentials(certDir, [], false);
  const report: string[] = [
    `Benchmarks on ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${new Date().toISOString()}`,
    '',
  ];
  console.log(report[0]);
  let failed = 0;
  for (const name of selected) {
    const rowsPath = path.join(os.tmpdir(), `iothub-emulator-bench-${process.pid}-${name}.json`);
    const result = spawnSync(process.execPath, ['--max-old-space-size=8192', process.argv[1], name], {
      stdio: 'inherit',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caPath, IOTHUB_EMULATOR_BENCH_CERT_DIR: certDir, IOTHUB_EMULATOR_BENCH_ROWS: rowsPath },
    });
    if (result.status !== 0) throw new Error(`benchmark ${name} failed (exit ${result.status})`);
    const { title, rows } = JSON.parse(readFileSync(rowsPath, 'utf8')) as { title: string; rows: BenchRow[] };
    rmSync(rowsPath, { force: true });
    const table = formatTable(title, rows);
    console.log(`\n${table}`);
    report.push(table);
    failed += rows.filter((r) => meetsTarget(r) === false).length;
  }
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/latest.md', report.join('\n'));
  console.log(`\nTables written to bench/results/latest.md${failed ? `; ${failed} figure(s) missed their target` : '; every figure met its target'}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
