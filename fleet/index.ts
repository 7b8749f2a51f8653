// The fleet's public face: run simulated devices from code, or add the command to a CLI.
export { startFleet, type RunningFleet, type FleetHooks } from './fleet.js';
export { DEFAULT_PREFIX, DEFAULT_TOKEN_TTL_SECONDS, ENGINES, type EngineName, type FleetConfig } from './config.js';
export { deviceId, parseShard, shardRange, WHOLE, type AutoShard, type IndexRange, type Shard } from './device-range.js';
export { defaultScenario, type Scenario } from './scenario/scenario.js';
export { parseDistribution, type Distribution } from './scenario/distribution.js';
export type { DeviceBehaviour, DeviceKind, DeviceContext, MethodOutcome, MethodResult } from './devices/device-behaviour.js';
export { lockDoor } from './devices/lock-door.js';
export type { FleetReport, Percentiles } from './report.js';
export type { Counters, MergedStats } from './runner/fleet-stats.js';
export { FleetError, EXIT_CODES, type FleetErrorKind } from './errors.js';
export { registerFleetCommand } from './cli.js';
export { startDemoFleet, demoInstructions, type DemoHub, type DemoFleet } from './demo.js';
