import { readFileSync } from 'node:fs';
import path from 'node:path';
import { wellKnownPolicies } from '../../emulator/identity/policies.js';
import { createSasToken } from '../../protocol/sas.js';
import { startBareHub, type BareHub } from './bare-hub.js';
import { startEmulatorProcess, type EmulatorProcess } from './emulator-process.js';

const owner = wellKnownPolicies[0];

/** The iothubowner connection string for a hub on `host`: the emulator's, and the floor's (which checks nothing). */
export const ownerConnectionString = (host: string): string => `HostName=${host};SharedAccessKeyName=${owner.keyName};SharedAccessKey=${owner.primaryKey}`;

export interface BesideFloor {
  /** the bench's CA, which both sides' certificates chain to */
  ca: string;
  emulator: EmulatorProcess;
  floor: BareHub;
  /** an iothubowner token for the emulator, good for two hours */
  token: string;
  /** stops the floor, then the emulator */
  stop(): Promise<void>;
}

/**
 * The emulator and its floor (bare-hub.ts) started as processes of their own on their loopback
 * addresses, with the bench's certificates: the setup of the benches that measure a call beside
 * the floor (methods, twins).
 */
export async function startBesideFloor(host: string, floorHost: string): Promise<BesideFloor> {
  const certDir = process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR!;
  const ca = readFileSync(path.join(certDir, 'ca.pem'), 'utf8');
  const emulator = await startEmulatorProcess(host, certDir);
  const floor = await startBareHub(floorHost, certDir);
  const token = createSasToken(host, owner.primaryKey, Math.floor(Date.now() / 1000) + 7200, owner.keyName);
  return {
    ca,
    emulator,
    floor,
    token,
    async stop() {
      await floor.stop();
      await emulator.stop();
    },
  };
}
