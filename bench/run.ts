import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadOrCreateCredentials } from '../emulator/tls/certificates.js';
import { formatTable, meetsTarget, type Bench } from './support/harness.js';

// Each benchmark registers here; `npm run bench -- <name>…` runs a subset.
const registry: Record<string, () => Promise<{ bench: Bench }>> = {
  methods: () => import('./methods.js'),
  jobs: () => import('./jobs.js'),
  query: () => import('./query.js'),
  fleet: () => import('./fleet.js'),
  'fleet-soak': () => import('./fleet-soak.js'), // opt-in: 18,000 devices for 5 minutes
};
const OPT_IN = new Set(['fleet-soak']);

const certDir = path.join(os.tmpdir(), 'iothub-emulator-bench-certs');

async function main(): Promise<void> {
  // The SDKs read NODE_EXTRA_CA_CERTS only at process start: create the CA, then run again trusting it.
  if (!process.env.IOTHUB_EMULATOR_BENCH_CHILD) {
    const { caPath } = await loadOrCreateCredentials(certDir, [], false);
    const result = spawnSync(process.execPath, ['--max-old-space-size=8192', ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caPath, IOTHUB_EMULATOR_BENCH_CHILD: '1', IOTHUB_EMULATOR_BENCH_CERT_DIR: certDir },
    });
    process.exit(result.status ?? 1);
  }
  const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const selected = names.length ? names : Object.keys(registry).filter((n) => !OPT_IN.has(n));
  const unknown = selected.filter((n) => !registry[n]);
  if (unknown.length) throw new Error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(registry).join(', ')}`);
  const report: string[] = [`Benchmarks on ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ${new Date().toISOString()}`, ''];
  console.log(report[0]);
  let failed = 0;
  for (const name of selected) {
    const { bench } = await registry[name]();
    console.log(`\n▶ ${bench.name}: ${bench.description}`);
    const rows = await bench.run();
    const table = formatTable(`${bench.name} — ${bench.description}`, rows);
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
