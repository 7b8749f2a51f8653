import type { ModuleRecord } from './module-record.js';

/** Registry etags are base64 of a decimal version string, as for devices (device-json.ts). */
export function moduleEtag(record: ModuleRecord): string {
  return Buffer.from(String(record.etagVersion)).toString('base64');
}

/** The registry's Module JSON (docs/protocol.md §3.1), as `Registry.getModule` reads it. */
export function moduleJson(record: ModuleRecord): Record<string, unknown> {
  return {
    moduleId: record.moduleId,
    managedBy: record.managedBy,
    deviceId: record.deviceId,
    generationId: record.generationId,
    etag: moduleEtag(record),
    connectionState: record.connectionState,
    connectionStateUpdatedTime: record.connectionStateUpdatedTime,
    lastActivityTime: record.lastActivityTime,
    cloudToDeviceMessageCount: record.cloudToDeviceMessageCount,
    authentication: record.authentication,
  };
}
