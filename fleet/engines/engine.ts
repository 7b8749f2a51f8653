import type { EngineName } from '../config.js';
import type { JsonObject } from '../devices/device-behaviour.js';
import type { FleetIdentity } from '../hub/registration.js';

export interface MethodRequest {
  readonly name: string;
  readonly payload: unknown;
  /** performance.now() when the request reached the device's handler */
  readonly arrivedAt: number;
  /** publishes the response; returns once it is handed to the connection */
  respond(status: number, payload: unknown): void;
}

/** What an engine tells the device driving a connection. */
export interface LinkEvents {
  method(request: MethodRequest): void;
  desired(patch: JsonObject): void;
  /** the connection ended without `close()` being called */
  lost(error: Error): void;
  /** the SAS token was renewed (by reconnecting) */
  renewed(): void;
}

export interface TwinProperties {
  readonly desired: JsonObject;
  readonly reported: JsonObject;
}

/** One device's connection, ready for methods and desired patches once `Engine.connect` resolves. */
export interface DeviceLink {
  getTwin(): Promise<TwinProperties>;
  reportProperties(patch: JsonObject): Promise<void>;
  sendTelemetry(body: string, properties: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

/** A way of putting devices on the wire; the same device behaviour runs on every engine. */
export interface Engine {
  readonly name: EngineName;
  connect(identity: FleetIdentity, methods: readonly string[], events: LinkEvents): Promise<DeviceLink>;
  /** releases what the engine shares between devices */
  close(): void;
}

export interface EngineOptions {
  /** extra CA (PEM) to trust besides the system ones */
  readonly ca?: string;
  readonly tokenTtlSeconds: number;
}

/** Renew a token this long before it expires: the SDK's 15 minutes, or a fifth of a short lifetime. */
export function renewalMarginSeconds(ttlSeconds: number): number {
  return Math.min(900, Math.max(1, Math.floor(ttlSeconds / 5)));
}

export const USER_AGENT = 'iothub-emulator-fleet/0.1.0';
