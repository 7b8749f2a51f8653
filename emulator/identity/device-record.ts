import type { JsonObject } from '../twin/json.js';
import type { Section } from '../twin/twin-merge.js';

export type DeviceStatus = 'enabled' | 'disabled';
export type ConnectionState = 'Connected' | 'Disconnected';

export interface DeviceAuthentication {
  type: 'sas' | 'selfSigned' | 'certificateAuthority' | 'none';
  symmetricKey: { primaryKey: string | null; secondaryKey: string | null };
  x509Thumbprint: { primaryThumbprint: string | null; secondaryThumbprint: string | null };
}

export interface TwinState {
  tags: JsonObject;
  desired: Section;
  reported: Section;
  /** twin `version`: moves with every change to tags, desired or reported */
  version: number;
  /** counter behind the twin `etag`: moves only with service-side writes (tags, desired) — docs/protocol.md §2.1 */
  etag: number;
}

/** Everything the hub knows about one device: its identity, its twin and its live state. */
export interface DeviceRecord {
  deviceId: string;
  generationId: string;
  /** counter behind the registry `etag` */
  etagVersion: number;
  status: DeviceStatus;
  statusReason: string | null;
  statusUpdatedTime: string;
  authentication: DeviceAuthentication;
  capabilities: { iotEdge: boolean };
  deviceScope?: string;
  parentScopes?: string[];
  connectionState: ConnectionState;
  connectionStateUpdatedTime: string;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  modelId: string;
  twin: TwinState;
}

export const NEVER = '0001-01-01T00:00:00Z';
