import type { DeviceRecord } from './device-record.js';

/** Registry etags are base64 of a decimal version string ("MQ==" = "1"), as the real hub's are. */
export function registryEtag(record: DeviceRecord): string {
  return Buffer.from(String(record.etagVersion)).toString('base64');
}

/** The registry's Device JSON (docs/protocol.md §3.1). */
export function deviceJson(record: DeviceRecord): Record<string, unknown> {
  return {
    deviceId: record.deviceId,
    generationId: record.generationId,
    etag: registryEtag(record),
    connectionState: record.connectionState,
    status: record.status,
    statusReason: record.statusReason,
    connectionStateUpdatedTime: record.connectionStateUpdatedTime,
    statusUpdatedTime: record.statusUpdatedTime,
    lastActivityTime: record.lastActivityTime,
    cloudToDeviceMessageCount: record.cloudToDeviceMessageCount,
    authentication: record.authentication,
    capabilities: record.capabilities,
    ...(record.deviceScope !== undefined ? { deviceScope: record.deviceScope } : {}),
    ...(record.parentScopes !== undefined ? { parentScopes: record.parentScopes } : {}),
  };
}
