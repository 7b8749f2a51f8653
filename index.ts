// The package's public face for programs and tests.
export { startHub, type Hub } from './emulator/hub.js';
export type { HubOptions } from './emulator/config.js';
export { wellKnownPolicies } from './emulator/identity/policies.js';
