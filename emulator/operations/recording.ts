import type { HubEventMap, HubEvents } from '../events.js';
import { isoTime } from '../time.js';
import { BoundedLog } from './bounded-log.js';
import {
  c2dSentEntry,
  c2dSettledEntry,
  methodEntry,
  telemetryEntry,
  twinEntry,
  type C2dEntry,
  type ConnectionEntry,
  type EntryKind,
  type MethodEntry,
  type NewEntry,
  type RecordedEntry,
  type TelemetryEntry,
  type TwinEntry,
} from './recorded-entry.js';

export interface RecordingOptions {
  /** method calls, twin patches, connection and registry events kept (the oldest go first) */
  recordingLimit: number;
  /** device-to-cloud messages kept, counted apart so chatty devices cannot push out the rest */
  telemetryBuffer: number;
}

export const defaultRecordingOptions: RecordingOptions = { recordingLimit: 10_000, telemetryBuffer: 1_000 };

export type EntryOf<K extends EntryKind> = Extract<RecordedEntry, { kind: K }>;

export interface RecordingFilter<K extends EntryKind = EntryKind> {
  kind?: K | readonly K[];
  deviceId?: string;
  /** only entries recorded after this sequence number */
  since?: number;
  where?: (entry: EntryOf<K>) => boolean;
}

export interface LogStats {
  size: number;
  capacity: number;
  dropped: number;
}

type Listener = (entry: RecordedEntry) => void;

/**
 * What happened on the hub, in order, for tests to assert on and tools to stream: built only
 * from hub events, so it sees what the hub did whichever face or job caused it.
 */
export class Recording {
  private seq = 0;
  private readonly telemetryLog: BoundedLog<TelemetryEntry>;
  private readonly otherLog: BoundedLog<RecordedEntry>;
  private readonly listeners = new Set<Listener>();
  private muted = 0;

  constructor(private readonly options: RecordingOptions = defaultRecordingOptions) {
    this.telemetryLog = new BoundedLog(options.telemetryBuffer);
    this.otherLog = new BoundedLog(options.recordingLimit);
  }

  /** Starts recording a hub's events; returns the function that stops it. */
  attach(events: HubEvents): () => void {
    const handlers = {
      telemetry: (e: Parameters<typeof telemetryEntry>[0]) => this.record(telemetryEntry(e)),
      methodInvoked: (e: Parameters<typeof methodEntry>[0]) => this.record(methodEntry(e)),
      twinUpdated: (e: Parameters<typeof twinEntry>[0]) => this.record(twinEntry(e)),
      // A module's connection is recorded under its device with its module id.
      deviceConnected: (e: HubEventMap['deviceConnected'][0]) =>
        this.record({ kind: 'connection', deviceId: e.deviceId, ...moduleOf(e), event: 'connected', transport: e.transport }),
      deviceDisconnected: (e: HubEventMap['deviceDisconnected'][0]) =>
        this.record({ kind: 'connection', deviceId: e.deviceId, ...moduleOf(e), event: 'disconnected', reason: e.reason }),
      deviceCreated: (e: { deviceId: string }) => this.record({ kind: 'device', deviceId: e.deviceId, event: 'created' }),
      deviceDeleted: (e: { deviceId: string }) => this.record({ kind: 'device', deviceId: e.deviceId, event: 'deleted' }),
      c2dSent: (e: Parameters<typeof c2dSentEntry>[0]) => this.record(c2dSentEntry(e)),
      c2dSettled: (e: Parameters<typeof c2dSettledEntry>[0]) => this.record(c2dSettledEntry(e)),
      throttled: (e: HubEventMap['throttled'][0]) =>
        this.record({ kind: 'throttle', deviceId: '', operation: e.operation, outcome: e.outcome, delayMs: e.delayMs }),
      faultRule: (e: HubEventMap['faultRule'][0]) =>
        this.record({ kind: 'fault', deviceId: '', event: e.change, ruleId: e.id, ruleKind: e.kind, affected: e.affected }),
      faultApplied: (e: HubEventMap['faultApplied'][0]) =>
        this.record({ kind: 'fault', deviceId: e.deviceId ?? '', event: 'applied', what: e.what, operation: e.operation }),
    };
    for (const [name, handler] of Object.entries(handlers)) events.on(name as 'telemetry', handler as never);
    return () => {
      for (const [name, handler] of Object.entries(handlers)) events.off(name as 'telemetry', handler as never);
    };
  }

  record(newEntry: NewEntry): RecordedEntry | undefined {
    if (this.muted > 0) return undefined;
    const entry = { seq: ++this.seq, time: isoTime(), ...newEntry } as RecordedEntry;
    if (entry.kind === 'telemetry') this.telemetryLog.push(entry);
    else this.otherLog.push(entry);
    for (const listener of this.listeners) {
      try {
        listener(entry);
      } catch {
        // A broken listener (a stream that went away) must not fail the hub operation that emitted.
      }
    }
    return entry;
  }

  /**
   * Runs `action` without recording what it causes: the devices a seed or a test helper sets up
   * are not what a test asserts on. Events are emitted synchronously, so this covers exactly them.
   */
  unrecorded<T>(action: () => T): T {
    this.muted++;
    try {
      return action();
    } finally {
      this.muted--;
    }
  }

  /** The sequence number of the newest entry (0 before any). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Matching entries, oldest first. */
  entries<K extends EntryKind = EntryKind>(filter: RecordingFilter<K> = {}): EntryOf<K>[] {
    const match = matcher(filter);
    const result: RecordedEntry[] = [];
    const kinds = kindsOf(filter);
    const wantTelemetry = !kinds || kinds.has('telemetry');
    const wantOthers = !kinds || [...kinds].some((k) => k !== 'telemetry');
    // Each log is in sequence order; merging keeps the whole answer in the order things happened.
    const a = wantTelemetry ? [...this.telemetryLog] : [];
    const b = wantOthers ? [...this.otherLog] : [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      const next = j >= b.length || (i < a.length && a[i].seq < b[j].seq) ? a[i++] : b[j++];
      if (match(next)) result.push(next);
    }
    return result as EntryOf<K>[];
  }

  telemetry(filter: Omit<RecordingFilter<'telemetry'>, 'kind'> = {}): TelemetryEntry[] {
    return this.entries({ ...filter, kind: 'telemetry' });
  }

  methodCalls(filter: Omit<RecordingFilter<'method'>, 'kind'> & { methodName?: string } = {}): MethodEntry[] {
    const { methodName, where, ...rest } = filter;
    return this.entries({ ...rest, kind: 'method', where: (e) => (methodName === undefined || e.methodName === methodName) && (!where || where(e)) });
  }

  twinPatches(filter: Omit<RecordingFilter<'twin'>, 'kind'> & { side?: TwinEntry['side']; section?: TwinEntry['section'] } = {}): TwinEntry[] {
    const { side, section, where, ...rest } = filter;
    return this.entries({
      ...rest,
      kind: 'twin',
      where: (e) => (side === undefined || e.side === side) && (section === undefined || e.section === section) && (!where || where(e)),
    });
  }

  connections(filter: Omit<RecordingFilter<'connection'>, 'kind'> = {}): ConnectionEntry[] {
    return this.entries({ ...filter, kind: 'connection' });
  }

  /** Cloud-to-device messages sent and settled. */
  c2dMessages(filter: Omit<RecordingFilter<'c2d'>, 'kind'> & { event?: C2dEntry['event'] } = {}): C2dEntry[] {
    const { event, where, ...rest } = filter;
    return this.entries({ ...rest, kind: 'c2d', where: (e) => (event === undefined || e.event === event) && (!where || where(e)) });
  }

  /**
   * The first entry matching `filter`, already recorded or still to come; rejects after
   * `timeoutMs` with what was recorded for the device instead, so a failing test says why.
   */
  waitFor<K extends EntryKind = EntryKind>(filter: RecordingFilter<K>, options: { timeoutMs?: number } = {}): Promise<EntryOf<K>> {
    const existing = this.entries(filter)[0];
    if (existing) return Promise.resolve(existing);
    const match = matcher(filter);
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const stop = this.subscribe((entry) => {
        if (!match(entry)) return;
        clearTimeout(timer);
        stop();
        resolve(entry as EntryOf<K>);
      });
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${describe(filter)}; ${this.summary(filter.deviceId)}`));
      }, timeoutMs);
    });
  }

  /** Calls `listener` with every entry recorded from now on; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  clear(): void {
    this.telemetryLog.clear();
    this.otherLog.clear();
  }

  stats(): { telemetry: LogStats; events: LogStats } {
    return {
      telemetry: { size: this.telemetryLog.size, capacity: this.options.telemetryBuffer, dropped: this.telemetryLog.dropped },
      events: { size: this.otherLog.size, capacity: this.options.recordingLimit, dropped: this.otherLog.dropped },
    };
  }

  private summary(deviceId: string | undefined): string {
    const counts = new Map<string, number>();
    for (const entry of this.entries({ deviceId })) counts.set(entry.kind, (counts.get(entry.kind) ?? 0) + 1);
    const what = deviceId === undefined ? 'recorded' : `recorded for '${deviceId}'`;
    if (counts.size === 0) return `nothing was ${what}`;
    return `${what}: ${[...counts].map(([kind, n]) => `${kind} ×${n}`).join(', ')}`;
  }
}

function kindsOf<K extends EntryKind>(filter: RecordingFilter<K>): Set<EntryKind> | undefined {
  if (filter.kind === undefined) return undefined;
  return new Set(typeof filter.kind === 'string' ? [filter.kind] : filter.kind);
}

/** A test for entries against a filter (the event stream uses it for live entries). */
export function matcher<K extends EntryKind>(filter: RecordingFilter<K>): (entry: RecordedEntry) => boolean {
  const kinds = kindsOf(filter);
  return (entry) =>
    (!kinds || kinds.has(entry.kind)) &&
    (filter.deviceId === undefined || entry.deviceId === filter.deviceId) &&
    (filter.since === undefined || entry.seq > filter.since) &&
    (!filter.where || filter.where(entry as EntryOf<K>));
}

function describe<K extends EntryKind>(filter: RecordingFilter<K>): string {
  const kinds = kindsOf(filter);
  const what = kinds ? `a ${[...kinds].join(' or ')} entry` : 'an entry';
  const device = filter.deviceId === undefined ? '' : ` for '${filter.deviceId}'`;
  const where = filter.where ? ' matching the predicate' : '';
  return `${what}${device}${where}`;
}

function moduleOf(e: { moduleId?: string }): { moduleId?: string } {
  return e.moduleId === undefined ? {} : { moduleId: e.moduleId };
}
