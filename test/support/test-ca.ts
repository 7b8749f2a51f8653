import { loadOrCreateCredentials } from '../../emulator/tls/certificates.js';

export async function ensureTestCa(certDir: string): Promise<string> {
  const credentials = await loadOrCreateCredentials(certDir, [], false);
  return credentials.caPath;
}
