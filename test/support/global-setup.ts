import os from 'node:os';
import path from 'node:path';
import { ensureTestCa } from './test-ca.js';

/**
 * Runs once, before vitest starts its worker processes: creates the CA every test hub's server
 * certificate is issued from and points NODE_EXTRA_CA_CERTS at it, so the unmodified SDKs in the
 * workers (which inherit this environment) trust the emulator.
 */
export default async function setup(): Promise<void> {
  const certDir = path.join(os.tmpdir(), 'iothub-emulator-test-certs');
  const caPath = await ensureTestCa(certDir);
  process.env.IOTHUB_EMULATOR_TEST_CERT_DIR = certDir;
  // Every emulator a test starts (child processes inherit this) takes its CA from here, never
  // from the user's own ~/.iothub-emulator/ca.
  process.env.IOTHUB_EMULATOR_CA_DIR = certDir;
  process.env.NODE_EXTRA_CA_CERTS = caPath;
}
