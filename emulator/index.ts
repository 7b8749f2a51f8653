/**
 * The emulator's public face: what other rooms (the scheduler, the composition root in cli/)
 * may use. Everything else under emulator/ is the hub's own business; in particular the device
 * store is reachable only through the services exported here.
 */

// Starting a hub; the root adds the jobs component through `jobs`.
export { openHub, type Hub, type HubParts } from './hub.js';
export { defaultOptions, resolveHostName, type HubOptions } from './config.js';
export { createLogger } from './logger.js';

// The services, and what callers need to call them.
export type { RegistryService } from './identity/registry-service.js';
export type { TwinService, ServiceTwinChange } from './twin/twin-service.js';
export { readServiceChange, unquote } from './twin/twin-service.js';
export type { MethodService, MethodCall, MethodResult } from './methods/method-service.js';
export { readMethodCall } from './methods/method-service.js';
export type { DeviceSelection, DeviceJobRecords } from './selection/device-selection.js';
export { parseJobCondition, parseQuery, QueryError, type Query } from './query/index.js';

// How a jobs component plugs in (implemented by scheduler/).
export type { JobDevicePace, JobsApi, JobsComponent, JobsFactory, JobsHost } from './jobs-api.js';
export type { HubStorage } from './store/hub-storage.js';
export type { Db } from './store/database.js';

// Shared vocabulary.
export { Clock } from './clock.js';
export { HubEvents, type HubEventMap } from './events.js';
export { HubError } from './errors.js';
export { isoTime } from './time.js';
export { isJsonObject, type Json, type JsonObject } from './twin/json.js';
export * from './limits.js';
export { parseTier, tierNames, tierProfile, type TierName, type TierProfile } from './throttle/tiers.js';
export type { FaultInjector } from './faults/fault-injector.js';
export type { FaultRule } from './faults/fault-rule.js';
export { findPolicy, wellKnownPolicies } from './identity/policies.js';

// Operations the command line and test suites use.
export { keepSeeded, applySeedQuietly, type SeedResult } from './operations/apply-seed.js';
export { loadSeedFile, parseSeed, type Seed, type SeedDevice } from './operations/seed.js';
export { defaultRecordingOptions, type Recording, type RecordingFilter, type RecordingOptions } from './operations/recording.js';
export { entryKinds, type RecordedEntry, type EntryKind, type TelemetryEntry, type MethodEntry, type TwinEntry, type ConnectionEntry, type DeviceEntry } from './operations/recorded-entry.js';
export type { ResetHook, ResetResult } from './operations/reset.js';
export { readDeviceRecord } from './store/read-device.js';
export { monitor } from './remote/monitor.js';
export { errorMessage, readCa, RemoteHub } from './remote/remote-hub.js';
export { startEmulator, type Emulator, type StartEmulatorOptions, type CreateDeviceOptions, type EmulatedDevice } from './testing/start-emulator.js';
export type { TrustMethod } from './testing/trust-ca.js';
