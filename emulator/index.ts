/**
 * The emulator's public face: what other rooms (the scheduler, the composition root in cli/)
 * may use. Everything else under emulator/ is the hub's own business; in particular the device
 * store is reachable only through the services exported here.
 */

// Starting a hub; the root adds the jobs component through `jobs`.
export { openHub, type Hub, type HubParts } from './hub.js';
// Flags, policies, CA location, the remote clients: the part the client commands load alone.
export * from './client.js';
export { createLogger } from './logger.js';

// The services, and what callers need to call them.
export type { RegistryService } from './identity/registry-service.js';
// The registry's Device JSON and the record it is made from (the dashboard shows both).
export { deviceJson } from './identity/device-json.js';
export type { DeviceRecord } from './identity/device-record.js';
export { moduleJson } from './identity/module-json.js';
export type { ModuleRecord } from './identity/module-record.js';
export type { CloudMessageContent } from './c2d/index.js';
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
export { tierProfile, type TierName, type TierProfile } from './throttle/tiers.js';
export type { FaultInjector } from './faults/fault-injector.js';
export type { FaultRule } from './faults/fault-rule.js';

// Operations the command line and test suites use.
export { keepSeeded, applySeedQuietly, type SeedResult } from './operations/apply-seed.js';
export { loadSeedFile, parseSeed, type Seed, type SeedDevice } from './operations/seed.js';
export type { Recording, RecordingFilter } from './operations/recording.js';
export type { RecordedEntry, TelemetryEntry, MethodEntry, TwinEntry, ConnectionEntry, DeviceEntry } from './operations/recorded-entry.js';
export type { ResetHook, ResetResult } from './operations/reset.js';
export { loadOrCreateCa } from './tls/certificates.js';
export { DataDirInUseError } from './store/data-dir-lock.js';
export { startEmulator, type Emulator, type StartEmulatorOptions, type CreateDeviceOptions, type EmulatedDevice } from './testing/start-emulator.js';
export type { TrustMethod } from './testing/trust-ca.js';
