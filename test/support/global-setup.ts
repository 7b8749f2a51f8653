import os from 'node:os';
import path from 'node:path';
import { ensureTestCa } from '../../emulator/testing/shared-ca.js';

/**
 * Runs once, before vitest starts its worker processes: creates the CA every test hub's server
 * certificate is issued from and points NODE_EXTRA_CA_CERTS at it, so the unmodified SDKs in the
 * workers (which inherit this environment) trust the emulator. The CA is made the way
 * startEmulator() makes its own (emulator/testing/shared-ca.ts, which refuses a directory another
 * user owns), in a directory of the suite's: testing-helper.test.ts relies on the helper's default
 * CA not being this one.
 */
export default async function setup(): Promise<void> {
  const uid = process.getuid?.();
  const { certDir, caPath } = await ensureTestCa(
    path.join(os.tmpdir(), uid === undefined ? 'iothub-emulator-test-certs' : `iothub-emulator-test-certs-${uid}`),
  );
  process.env.IOTHUB_EMULATOR_TEST_CERT_DIR = certDir;
  // Every emulator a test starts (child processes inherit this) takes its CA from here, never
  // from the user's own ~/.iothub-emulator/ca.
  process.env.IOTHUB_EMULATOR_CA_DIR = certDir;
  process.env.NODE_EXTRA_CA_CERTS = caPath;
}
