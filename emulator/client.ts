/**
 * The light part of the emulator's public face (index.ts re-exports all of it): what the command
 * line needs to reach a running hub as a client, and to read its flags, without loading the hub
 * itself (express, aedes, SQLite). `iothub-emulator device list` and the other client commands
 * start in a third of the time for it.
 */
export { defaultOptions, resolveEventHubName, resolveHostName, type HubOptions } from './config.js';
export * from './limits.js';
export { parseTier, tierNames } from './throttle/tiers.js';
export { parseQueryIndexPaths, QUERY_INDEX_BUILDS } from './selection/index-settings.js';
export { findPolicy, wellKnownPolicies, type Policy } from './identity/policies.js';
export { defaultRecordingOptions, type RecordingOptions } from './operations/recording.js';
export { entryKinds, type EntryKind } from './operations/recorded-entry.js';
export { monitor } from './remote/monitor.js';
export { errorMessage, readCa, RemoteHub } from './remote/remote-hub.js';
export { CA_DIR_ENV, resolveCaDir, userCaDir } from './tls/ca-location.js';
export { addDefaultCa } from './testing/trust-ca.js';
