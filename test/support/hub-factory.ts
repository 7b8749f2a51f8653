import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHub, type Hub } from '../../cli/start-hub.js';
import type { HubOptions } from '../../emulator/config.js';
import type { Logger } from 'pino';
import { onFreeLoopbackAddress } from '../../emulator/testing/loopback-address.js';

/**
 * Starts a real hub (TLS, SQLite, real sockets) on a loopback address of its own: the service SDK
 * only calls port 443, so parallel test files each take a different 127.0.0.x, picked the way
 * startEmulator() picks one (emulator/testing/loopback-address.ts).
 */
export async function startTestHub(options: Partial<HubOptions> = {}, logger?: Logger): Promise<Hub> {
  const certDir = process.env.IOTHUB_EMULATOR_TEST_CERT_DIR;
  if (!certDir) throw new Error('test/support/global-setup.ts did not run');
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-test-'));
  const start = (host: string): Promise<Hub> =>
    startHub(
      {
        inMemory: true,
        logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
        ...options,
        host,
        hostName: options.hostName ?? host,
        dataDir,
        certDir,
        httpsPort: 443,
        mqttPort: 8883,
      },
      logger,
    );
  return options.host ? start(options.host) : onFreeLoopbackAddress(start);
}

export function tempDataDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-data-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
