import { EventEmitter } from 'node:events';
import type { JsonObject } from './twin/json.js';

/** What happened inside the hub, for recording, monitoring and metrics. */
export interface HubEventMap {
  deviceConnected: [{ deviceId: string; transport: string }];
  deviceDisconnected: [{ deviceId: string; reason: string }];
  telemetry: [{ deviceId: string; payload: Buffer; properties: Record<string, string | null>; enqueuedTime: string }];
  methodInvoked: [{ deviceId: string; methodName: string; payload: unknown; status?: number; response?: unknown; error?: string; durationMs: number }];
  twinUpdated: [{ deviceId: string; side: 'service' | 'device'; section: 'tags' | 'desired' | 'reported'; patch: JsonObject; version: number }];
  deviceCreated: [{ deviceId: string }];
  deviceDeleted: [{ deviceId: string }];
  /** The scheduler emits these two; metrics (jobs.completed, jobs.failed, job device operations) count them. */
  jobFinished: [{ jobId: string; type: string; status: 'completed' | 'failed' | 'cancelled' }];
  jobDeviceFinished: [{ jobId: string; deviceId: string; type: string; outcome: 'completed' | 'failed' }];
  /** A throttle or the daily quota held or refused an operation (a tier is set: docs/protocol.md §6). */
  throttled: [{ operation: string; outcome: 'delayed' | 'throttled' | 'quota'; delayMs?: number }];
  /** The chaos API: a rule added or removed, and each time one changed what an operation did. */
  faultRule: [{ change: 'added' | 'removed' | 'expired'; id: string; kind: string; affected?: string[] }];
  faultApplied: [{ what: string; operation: string; deviceId?: string }];
}

export class HubEvents extends EventEmitter<HubEventMap> {}
