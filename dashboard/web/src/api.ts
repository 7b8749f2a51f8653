/** The hub's refusal, as the dashboard API passes it on: status, IoT Hub error code, its words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly info?: Record<string, unknown>,
    /** IoT Hub's numeric error code (403004, 404001…) */
    readonly code?: number,
  ) {
    super(message);
  }
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  // Changes always go as JSON (the server refuses anything else: see request-guard.ts).
  const sendsBody = method !== 'GET' && method !== 'DELETE';
  const response = await fetch(`/api${path}`, {
    method,
    headers: sendsBody ? { 'content-type': 'application/json' } : {},
    body: sendsBody ? JSON.stringify(body ?? {}) : undefined,
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const e = (parsed ?? {}) as { errorCode?: string; code?: number; message?: string; info?: Record<string, unknown> };
    throw new ApiError(response.status, e.errorCode ?? 'Error', e.message ?? (text || response.statusText), e.info, e.code);
  }
  return parsed as T;
}

export const get = <T>(path: string): Promise<T> => api<T>('GET', path);

/** The shapes the server sends (dashboard/server). */
export interface DeviceRow {
  deviceId: string;
  status: 'enabled' | 'disabled';
  connectionState: 'Connected' | 'Disconnected';
  connectionStateUpdatedTime: string;
  lastActivityTime: string;
  authenticationType: string;
  modules: number;
}

export interface DevicePage {
  total: number;
  matched: number;
  offset: number;
  rows: DeviceRow[];
}

export interface HubSample {
  t: number;
  registered: number;
  connected: number;
  telemetry: number;
  methods: number;
  methodFailures: number;
  twinUpdates: number;
  activeJobs: number;
}

export interface HubInfo {
  hostName: string;
  connectionString: string;
  clock: { now: string; offsetSeconds: number };
  now: HubSample;
  history: HubSample[];
  statistics: { totalDeviceCount: number; enabledDeviceCount: number; disabledDeviceCount: number };
}

export interface JobStatistics {
  deviceCount: number;
  failedCount: number;
  succeededCount: number;
  runningCount: number;
  pendingCount: number;
}

export interface Job {
  jobId: string;
  type: 'scheduleDeviceMethod' | 'scheduleUpdateTwin';
  status: 'queued' | 'scheduled' | 'running' | 'completed' | 'failed' | 'cancelled';
  queryCondition: string;
  createdTime: string;
  startTime: string;
  endTime?: string;
  maxExecutionTimeInSeconds: number;
  cloudToDeviceMethod?: { methodName?: string };
  updateTwin?: unknown;
  failureReason?: string;
  statusMessage?: string;
  deviceJobStatistics: JobStatistics;
}

export interface DeviceJob {
  deviceId: string;
  jobId: string;
  status: string;
  startTimeUtc: string;
  endTimeUtc: string;
  lastUpdatedDateTimeUtc: string;
  outcome?: { deviceMethodResponse: { status: number; payload: unknown } | null };
  error?: { code: string; description: string };
}

interface EntryBase {
  seq: number;
  time: string;
  deviceId: string;
  /** set when a module of the device did it */
  moduleId?: string;
}

export type Entry =
  | (EntryBase & {
      kind: 'telemetry';
      payload: unknown;
      encoding: string;
      properties: Record<string, string | null>;
      enqueuedTime: string;
      sizeInBytes: number;
    })
  | (EntryBase & { kind: 'method'; methodName: string; payload: unknown; status?: number; response?: unknown; error?: string; durationMs: number })
  | (EntryBase & { kind: 'twin'; side: 'service' | 'device'; section: string; patch: unknown; version: number })
  | (EntryBase & { kind: 'connection'; event: 'connected' | 'disconnected'; transport?: string; reason?: string })
  | (EntryBase & {
      kind: 'c2d';
      event: 'sent' | 'completed' | 'rejected' | 'abandoned' | 'expired' | 'deliveryCountExceeded' | 'purged';
      messageId?: string;
      payload?: unknown;
      encoding?: string;
      ack?: string;
      properties?: Record<string, string>;
      expiryTimeUtc?: string;
      deliveryCount?: number;
    });

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Twin = { [key: string]: Json } & {
  etag: string;
  version: number;
  tags?: Record<string, Json>;
  properties: { desired: Record<string, Json>; reported: Record<string, Json> };
};

export interface DeviceDetails {
  device: Record<string, Json> & {
    deviceId: string;
    status: string;
    connectionState: string;
    lastActivityTime: string;
    connectionStateUpdatedTime: string;
    etag: string;
    generationId: string;
  };
  twin: Twin;
  connectionString?: string;
  modules: ModuleInfo[];
  /** cloud-to-device messages queued and not yet settled */
  c2dPending: number;
  entries: Entry[];
}

/** A module identity as the device page lists it (the registry's Module JSON without keys). */
export interface ModuleInfo {
  moduleId: string;
  deviceId: string;
  managedBy: string | null;
  generationId: string;
  etag: string;
  connectionState: 'Connected' | 'Disconnected';
  connectionStateUpdatedTime: string;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authenticationType?: string;
}

export interface ModuleDetails {
  module: ModuleInfo;
  twin: Twin;
  connectionString?: string;
}

/** The hub's answer to a cloud-to-device send from the page. */
export interface C2dQueued {
  messageId?: string;
  ack: string;
  enqueuedTimeUtc: string;
  expiryTimeUtc: string;
  pending: number;
  maxPending: number;
}
