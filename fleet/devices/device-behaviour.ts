import type { Random } from '../scenario/random.js';

export type JsonObject = Record<string, unknown>;

export interface MethodResult {
  readonly status: number;
  readonly payload: unknown;
}

export interface MethodOutcome {
  readonly result: MethodResult;
  /** reported properties the call changed, sent after the response */
  readonly reported?: JsonObject;
}

/**
 * What one kind of simulated device does, and nothing about how it is connected: the engines
 * (sdk, light) deliver calls and patches to it and carry its answers to the hub.
 */
export interface DeviceBehaviour {
  /** the direct methods it answers; other calls go unanswered, as with a device app without a handler */
  readonly methods: readonly string[];
  /** the twin after (re)connecting; returns the reported properties to send, if any differ */
  onTwin(desired: JsonObject, reported: JsonObject): JsonObject | undefined;
  /** a desired-properties patch; returns the reported properties that acknowledge it */
  onDesired(patch: JsonObject): JsonObject | undefined;
  onMethod(name: string, payload: unknown): MethodOutcome;
  /** values a telemetry template may name, e.g. {{doorState}} */
  templateValues(): Readonly<JsonObject>;
}

export interface DeviceContext {
  readonly deviceId: string;
  readonly index: number;
  /** this device's own seeded stream */
  readonly random: Random;
  readonly now: () => number;
}

export interface DeviceKind {
  readonly name: string;
  create(context: DeviceContext): DeviceBehaviour;
}
