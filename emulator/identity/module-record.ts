import type { ConnectionState, DeviceAuthentication, TwinState } from './device-record.js';

/**
 * A module identity on a device (docs/protocol.md §3.1) with its module twin: its own keys, connection and
 * twin, never its device's. Modules have no status of their own; they can connect only while
 * their device is enabled.
 */
export interface ModuleRecord {
  deviceId: string;
  moduleId: string;
  generationId: string;
  /** counter behind the registry `etag` */
  etagVersion: number;
  managedBy: string | null;
  authentication: DeviceAuthentication;
  connectionState: ConnectionState;
  connectionStateUpdatedTime: string;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  modelId: string;
  twin: TwinState;
}

/**
 * The key a module is known by to the connection layer and the method service: its MQTT client
 * id, `{deviceId}/{moduleId}`. Device ids cannot contain '/', so it never collides with a device.
 */
export function moduleKey(deviceId: string, moduleId: string): string {
  return `${deviceId}/${moduleId}`;
}

/** A connection key back to its parts: a device's own id, or a module's device and module id. */
export function splitIdentityKey(key: string): { deviceId: string; moduleId?: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { deviceId: key } : { deviceId: key.slice(0, slash), moduleId: key.slice(slash + 1) };
}

export function isModuleRecord(record: object): record is ModuleRecord {
  return typeof (record as { moduleId?: unknown }).moduleId === 'string';
}
