import type { HubEventMap } from '../events.js';
import { cloneJson, type JsonObject } from '../twin/json.js';

/** What a recorded entry is about; also the event names on the /$emulator/events stream. */
export type EntryKind = 'telemetry' | 'method' | 'twin' | 'connection' | 'device' | 'throttle' | 'fault' | 'c2d';
export const entryKinds: readonly EntryKind[] = ['telemetry', 'method', 'twin', 'connection', 'device', 'throttle', 'fault', 'c2d'];

interface EntryBase {
  /** increasing per hub: the order things happened in, and the SSE event id */
  seq: number;
  /** when the hub recorded it (ISO-8601) */
  time: string;
  deviceId: string;
  /** set when a module of the device did it (its telemetry, connection, method or twin); `deviceId` is then its device */
  moduleId?: string;
}

export interface TelemetryEntry extends EntryBase {
  kind: 'telemetry';
  /** the body parsed as JSON when it is JSON, else its UTF-8 text, else base64 (see `encoding`) */
  payload: unknown;
  encoding: 'json' | 'text' | 'base64';
  /** application properties and system properties ($.ct, $.ce, $.mid…) as the device sent them */
  properties: Record<string, string | null>;
  enqueuedTime: string;
  sizeInBytes: number;
}

export interface MethodEntry extends EntryBase {
  kind: 'method';
  methodName: string;
  payload: unknown;
  /** the device's status and answer; absent when the call failed (`error` says why) */
  status?: number;
  response?: unknown;
  error?: string;
  durationMs: number;
}

export interface TwinEntry extends EntryBase {
  kind: 'twin';
  /** who changed it: the back end (tags, desired) or the device (reported) */
  side: 'service' | 'device';
  section: 'tags' | 'desired' | 'reported';
  patch: JsonObject;
  version: number;
}

export interface ConnectionEntry extends EntryBase {
  kind: 'connection';
  event: 'connected' | 'disconnected';
  transport?: string;
  reason?: string;
}

export interface DeviceEntry extends EntryBase {
  kind: 'device';
  event: 'created' | 'deleted';
}

/** A throttle of the tier held an operation back (delayed) or refused it (throttled, quota); deviceId is empty. */
export interface ThrottleEntry extends EntryBase {
  kind: 'throttle';
  operation: string;
  outcome: 'delayed' | 'throttled' | 'quota';
  delayMs?: number;
}

/** The chaos API: a rule added, removed or expired, or a rule changing what one operation did. */
export interface FaultEntry extends EntryBase {
  kind: 'fault';
  event: 'added' | 'removed' | 'expired' | 'applied';
  ruleId?: string;
  ruleKind?: string;
  /** devices a rule acted on at once (dropConnections, restart) */
  affected?: string[];
  /** what an applied rule did, and to which operation */
  what?: string;
  operation?: string;
}

/** A cloud-to-device message: queued (`sent`) and how it left the queue, or went back to it (`abandoned`). */
export interface C2dEntry extends EntryBase {
  kind: 'c2d';
  event: 'sent' | 'completed' | 'rejected' | 'abandoned' | 'expired' | 'deliveryCountExceeded' | 'purged';
  messageId?: string;
  /** on `sent`: the body (decoded as for telemetry), ack mode, application properties and expiry */
  payload?: unknown;
  encoding?: TelemetryEntry['encoding'];
  ack?: string;
  properties?: Record<string, string>;
  expiryTimeUtc?: string;
  /** on settlements: abandons counted so far */
  deliveryCount?: number;
}

export type RecordedEntry = TelemetryEntry | MethodEntry | TwinEntry | ConnectionEntry | DeviceEntry | ThrottleEntry | FaultEntry | C2dEntry;

type WithoutStamp<T> = T extends unknown ? Omit<T, 'seq' | 'time'> : never;
/** An entry before the recording numbers and stamps it. */
export type NewEntry = WithoutStamp<RecordedEntry>;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function telemetryEntry(event: HubEventMap['telemetry'][0]): NewEntry {
  return {
    kind: 'telemetry',
    deviceId: event.deviceId,
    ...(event.moduleId === undefined ? {} : { moduleId: event.moduleId }),
    ...decodeBody(event.payload),
    properties: event.properties,
    enqueuedTime: event.enqueuedTime,
    sizeInBytes: event.payload.length,
  };
}

/** Tests assert on values, not bytes: JSON bodies become values, text stays text, binary stays exact as base64. */
export function decodeBody(body: Buffer): { payload: unknown; encoding: TelemetryEntry['encoding'] } {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    return { payload: body.toString('base64'), encoding: 'base64' };
  }
  try {
    return { payload: JSON.parse(text), encoding: 'json' };
  } catch {
    return { payload: text, encoding: 'text' };
  }
}

export function methodEntry(event: HubEventMap['methodInvoked'][0]): NewEntry {
  const entry: Omit<MethodEntry, 'seq' | 'time'> = {
    kind: 'method',
    deviceId: event.deviceId,
    methodName: event.methodName,
    payload: event.payload,
    durationMs: Math.round(event.durationMs * 1000) / 1000,
  };
  if (event.moduleId !== undefined) entry.moduleId = event.moduleId;
  if (event.status !== undefined) {
    entry.status = event.status;
    entry.response = event.response;
  }
  if (event.error !== undefined) entry.error = event.error;
  return entry;
}

export function twinEntry(event: HubEventMap['twinUpdated'][0]): NewEntry {
  // A copy: the twin service may keep mutating the object it emitted.
  return {
    kind: 'twin',
    deviceId: event.deviceId,
    ...(event.moduleId !== undefined && { moduleId: event.moduleId }),
    side: event.side,
    section: event.section,
    patch: cloneJson(event.patch),
    version: event.version,
  };
}

export function c2dSentEntry(event: HubEventMap['c2dSent'][0]): NewEntry {
  const entry: Omit<C2dEntry, 'seq' | 'time'> = {
    kind: 'c2d',
    deviceId: event.deviceId,
    event: 'sent',
    ...decodeBody(event.payload),
    ack: event.ack,
    properties: { ...event.properties },
    expiryTimeUtc: event.expiryTimeUtc,
  };
  if (event.messageId !== undefined) entry.messageId = event.messageId;
  return entry;
}

export function c2dSettledEntry(event: HubEventMap['c2dSettled'][0]): NewEntry {
  const entry: Omit<C2dEntry, 'seq' | 'time'> = { kind: 'c2d', deviceId: event.deviceId, event: event.outcome, deliveryCount: event.deliveryCount };
  if (event.messageId !== undefined) entry.messageId = event.messageId;
  return entry;
}
