import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureTestCa } from './shared-ca.js';

/**
 * A global setup for vitest and jest (`globalSetup: ['iothub-emulator/global-setup']`). It runs
 * once in the runner's main process, before test workers start: it makes sure the test CA
 * exists and points NODE_EXTRA_CA_CERTS at it, which worker processes (vitest's default `forks`
 * pool, jest's workers) inherit and Node reads as they start. startEmulator() in those workers
 * then issues its server certificates from this same CA.
 *
 * Test files that run inside the main process (jest --runInBand, which jest also picks by
 * itself for a single test file) started before this; startEmulator() covers them at run time.
 */
export default async function globalSetup(): Promise<void> {
  const { certDir, caPath } = await ensureTestCa();
  process.env.IOTHUB_EMULATOR_CERT_DIR = certDir;
  process.env.NODE_EXTRA_CA_CERTS = withExistingExtraCas(caPath, certDir);
}

/** NODE_EXTRA_CA_CERTS names one file: a CA bundle already named there (a corporate proxy's) is kept next to ours. */
function withExistingExtraCas(caPath: string, certDir: string): string {
  const existing = process.env.NODE_EXTRA_CA_CERTS;
  if (!existing || path.resolve(existing) === caPath || !existsSync(existing)) return caPath;
  const bundlePath = path.join(certDir, 'ca-bundle.pem');
  if (path.resolve(existing) === bundlePath) return bundlePath;
  writeFileSync(bundlePath, `${readFileSync(existing, 'utf8').trimEnd()}\n${readFileSync(caPath, 'utf8')}`);
  return bundlePath;
}
