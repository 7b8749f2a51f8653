import { mkdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadOrCreateCredentials } from '../tls/certificates.js';

/** Where test runs keep their CA unless told otherwise: stable across runs, so its path can be trusted once. */
export function defaultCaDir(): string {
  const uid = process.getuid?.();
  return path.join(os.tmpdir(), uid === undefined ? 'iothub-emulator-ca' : `iothub-emulator-ca-${uid}`);
}

/** The directory the global setup chose (passed to workers through the environment), else the default. */
export function testCaDir(): string {
  return process.env.IOTHUB_EMULATOR_CERT_DIR || defaultCaDir();
}

export interface TestCa {
  certDir: string;
  caPath: string;
  /** PEM */
  ca: string;
}

/**
 * Creates the CA in `certDir` if it is not there yet; processes racing to create it end up with
 * the same one (see tls/certificates.ts). The directory must be the caller's own: a CA planted
 * in a shared temporary directory by another user would otherwise be trusted.
 */
export async function ensureTestCa(certDir: string = testCaDir()): Promise<TestCa> {
  mkdirSync(certDir, { recursive: true, mode: 0o700 });
  const uid = process.getuid?.();
  if (uid !== undefined && statSync(certDir).uid !== uid) {
    throw new Error(`${certDir} belongs to another user; point IOTHUB_EMULATOR_CERT_DIR at a directory of your own`);
  }
  const credentials = await loadOrCreateCredentials(certDir, [], false);
  return { certDir, caPath: credentials.caPath, ca: credentials.ca };
}
