// The package's public face for programs and tests: the hub with its scheduler (composed in cli/).
export { startHub, startEmulator, type Hub } from './cli/start-hub.js';
export type { HubOptions } from './emulator/config.js';
export { wellKnownPolicies } from './emulator/identity/policies.js';

// For test suites: what startEmulator() gives, and what it recorded.
export type { Emulator, StartEmulatorOptions, CreateDeviceOptions, EmulatedDevice } from './emulator/testing/start-emulator.js';
export type { TrustMethod } from './emulator/testing/trust-ca.js';
export type { SubscriptionKind } from './protocol/topics.js';
export type { Recording, RecordingFilter, RecordingOptions } from './emulator/operations/recording.js';
export type { RecordedEntry, EntryKind, TelemetryEntry, MethodEntry, TwinEntry, ConnectionEntry, DeviceEntry } from './emulator/operations/recorded-entry.js';
export { loadSeedFile, parseSeed, type Seed, type SeedDevice } from './emulator/operations/seed.js';
export type { SeedResult } from './emulator/operations/apply-seed.js';
export type { ResetHook, ResetResult } from './emulator/operations/reset.js';
