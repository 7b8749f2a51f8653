import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SubscriptionKind } from '../../protocol/topics.js';
import { openHub, type Hub, type HubParts } from '../hub.js';
import { applySeedQuietly, keepSeeded, type SeedResult } from '../operations/apply-seed.js';
import type { Recording } from '../operations/recording.js';
import { loadSeedFile, parseSeed, type Seed, type SeedDevice } from '../operations/seed.js';
import { onFreeLoopbackAddress } from './loopback-address.js';
import { ensureTestCa } from './shared-ca.js';
import { trustCa, type TrustMethod } from './trust-ca.js';
import type { FaultInjector } from '../faults/fault-injector.js';
import type { TierName } from '../throttle/tiers.js';

export interface StartEmulatorOptions {
  /** keep state in memory (default true); false keeps it in `dataDir` */
  inMemory?: boolean;
  /** state directory when not in memory (default: a temporary directory that stop() removes) */
  dataDir?: string;
  /** where the CA lives (default: IOTHUB_EMULATOR_CERT_DIR, as the global setup sets it, else a per-user temporary directory) */
  certDir?: string;
  /** address to listen on (default: a free 127.0.0.x) */
  host?: string;
  /** devices to start with, as an object or the path of a JSON or YAML seed file; put back by reset() */
  seed?: Seed | string;
  /** method calls, twin patches and connection events kept (default 10000) */
  recordingLimit?: number;
  /** device-to-cloud messages kept (default 1000) */
  telemetryBuffer?: number;
  /** the hub's log level (default silent; try 'debug' when a test fails oddly) */
  logLevel?: string;
  /** make this process trust the emulator's CA if it does not yet (default true) */
  trustCa?: boolean;
  /** apply an IoT Hub tier's throttles and daily quota (docs/protocol.md §6); default: none */
  tier?: TierName;
  /** units of that tier (default 1) */
  units?: number;
}

export type CreateDeviceOptions = Omit<SeedDevice, 'deviceId'>;

export interface EmulatedDevice {
  deviceId: string;
  /** for azure-iot-device's Client.fromConnectionString */
  connectionString: string;
  primaryKey: string;
}

export interface Emulator {
  /** iothubowner connection string, for azure-iothub's Registry, Client and JobClient */
  readonly connectionString: string;
  readonly hostName: string;
  /** PEM of the CA the emulator's server certificate is issued from */
  readonly ca: string;
  readonly caPath: string;
  /** how this process trusts `ca` ('none' when trustCa was false) */
  readonly trust: TrustMethod | 'none';
  /** what happened: method calls, twin patches, telemetry, connections — for assertions */
  readonly recording: Recording;
  /** the hub itself, for what this face does not cover */
  readonly hub: Hub;
  /**
   * The chaos API in-process: `faults.add({ kind: 'failOperations', operation: 'methods', status: 500, fraction: 0.5, seed: 1 })`,
   * `faults.list()`, `faults.remove(id)`, `faults.clear()`. Rules are validated as over REST; reset() clears them.
   */
  readonly faults: FaultInjector;
  /** Registers a device (it must not exist yet) with optional tags, desired and reported properties and keys. */
  createDevice(deviceId: string, options?: CreateDeviceOptions): Promise<EmulatedDevice>;
  deviceConnectionString(deviceId: string): string;
  /**
   * Resolves once the device is connected and subscribed to `kind` (default: direct methods).
   * The device SDK subscribes after open() returns, so a test calls a method only after this.
   */
  waitForSubscription(deviceId: string, kind?: SubscriptionKind, timeoutMs?: number): Promise<void>;
  /** Applies a seed now (idempotent); not recorded. */
  seed(seed: Seed | string): SeedResult;
  /** Back to the starting state: no devices but the seeded ones, empty recording. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real emulator inside the test process: TLS, MQTT and HTTPS on a loopback address of its own,
 * which the unmodified SDKs in the same process can call. `parts` carries what the composition
 * root adds (the package's startEmulator passes the scheduler).
 */
export async function startEmulator(options: StartEmulatorOptions = {}, parts: HubParts = {}): Promise<Emulator> {
  const inMemory = options.inMemory ?? true;
  const { certDir } = await ensureTestCa(options.certDir);
  const ownDataDir = options.dataDir === undefined ? mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-')) : undefined;
  const dataDir = options.dataDir ?? ownDataDir!;
  const start = (host: string): Promise<Hub> =>
    openHub({
      host,
      hostName: host,
      httpsPort: 443,
      mqttPort: 8883,
      inMemory,
      dataDir,
      certDir,
      logLevel: options.logLevel ?? 'silent',
      logFormat: 'json',
      recordingLimit: options.recordingLimit,
      telemetryBuffer: options.telemetryBuffer,
      tier: options.tier,
      units: options.units ?? 1,
    }, parts);
  let hub: Hub;
  try {
    hub = options.host ? await start(options.host) : await onFreeLoopbackAddress(start);
  } catch (error) {
    if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
    throw error;
  }
  try {
    const trust = options.trustCa === false ? 'none' : await trustCa(hub.ca, { host: hub.options.host, port: hub.httpsPort });
    if (options.seed !== undefined) keepSeeded(hub, readSeed(options.seed));
    return emulatorFor(hub, trust, ownDataDir);
  } catch (error) {
    await hub.stop();
    if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
    throw error;
  }
}

function readSeed(seed: Seed | string): Seed {
  return typeof seed === 'string' ? loadSeedFile(seed) : parseSeed(seed);
}

function emulatorFor(hub: Hub, trust: TrustMethod | 'none', ownDataDir: string | undefined): Emulator {
  return {
    connectionString: hub.connectionString(),
    hostName: hub.hostName,
    ca: hub.ca,
    caPath: hub.caPath,
    trust,
    recording: hub.recording,
    hub,
    faults: hub.faults,
    async createDevice(deviceId, deviceOptions = {}) {
      if (hub.registry.find(deviceId)) throw new Error(`Device '${deviceId}' already exists`);
      applySeedQuietly(hub, parseSeed({ devices: [{ ...deviceOptions, deviceId }] }));
      return { deviceId, connectionString: hub.deviceConnectionString(deviceId), primaryKey: hub.registry.get(deviceId).authentication.symmetricKey.primaryKey! };
    },
    deviceConnectionString: (deviceId) => hub.deviceConnectionString(deviceId),
    async waitForSubscription(deviceId, kind = 'methods', timeoutMs = 10_000) {
      if (!(await hub.connections.whenSubscribed(deviceId, kind, timeoutMs))) {
        const state = hub.connections.current(deviceId) ? 'is connected but not subscribed to it' : 'is not connected';
        throw new Error(`Device '${deviceId}' did not subscribe to ${kind} within ${timeoutMs} ms: it ${state}`);
      }
    },
    seed: (seed) => applySeedQuietly(hub, readSeed(seed)),
    async reset() {
      await hub.reset();
    },
    async stop() {
      await hub.stop();
      if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
    },
  };
}
