import type { SubscriptionKind } from '../protocol/topics.js';

/**
 * How services reach a connected device without knowing MQTT: the mqtt face implements it.
 * Every delivery goes to the one device's connection, never broker-wide.
 */
export interface DeviceChannel {
  isSubscribed(deviceId: string, kind: SubscriptionKind): boolean;
  /** Resolves true once the device is connected and subscribed to `kind`, false after `timeoutMs`. */
  whenSubscribed(deviceId: string, kind: SubscriptionKind, timeoutMs: number): Promise<boolean>;
  /** Publishes at QoS 0 on the device's own connection; false when it is not connected. */
  send(deviceId: string, topic: string, payload: string | Buffer): boolean;
  disconnect(deviceId: string, reason: string): void;
}
