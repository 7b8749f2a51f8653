import hdr from 'hdr-histogram-js';
import { hubRefusal } from './hub-refusal.js';

type Histogram = ReturnType<typeof hdr.build>;

/** Everything a fleet counts. Devices add to their process's counters; workers send snapshots to the parent. */
export interface Counters {
  /** devices of this process, registered and planned */
  devices: number;
  /** devices the scenario keeps offline */
  neverConnect: number;
  /** devices connected now */
  connected: number;
  /** devices that connected at least once */
  everConnected: number;
  connectAttempts: number;
  connectFailures: number;
  /** churn: planned drops, and connections back afterwards */
  drops: number;
  reconnects: number;
  /** connections that ended without the fleet asking */
  connectionsLost: number;
  tokenRenewals: number;
  methodCalls: number;
  methodResponses: number;
  /** responses the scenario turned into errors */
  methodErrorResponses: number;
  desiredPatches: number;
  reportedPatches: number;
  reportedFailures: number;
  telemetrySent: number;
  telemetryFailures: number;
  /** failures above that were the hub refusing on purpose: a throttle, or the daily quota */
  throttled: number;
  quotaExceeded: number;
}

export function emptyCounters(): Counters {
  return {
    devices: 0,
    neverConnect: 0,
    connected: 0,
    everConnected: 0,
    connectAttempts: 0,
    connectFailures: 0,
    drops: 0,
    reconnects: 0,
    connectionsLost: 0,
    tokenRenewals: 0,
    methodCalls: 0,
    methodResponses: 0,
    methodErrorResponses: 0,
    desiredPatches: 0,
    reportedPatches: 0,
    reportedFailures: 0,
    telemetrySent: 0,
    telemetryFailures: 0,
    throttled: 0,
    quotaExceeded: 0,
  };
}

/** Failures of the fleet itself (the errors the scenario injects are not among them). */
export function errorCount(c: Counters): number {
  return c.connectFailures + c.connectionsLost + c.reportedFailures + c.telemetryFailures;
}

/** What crosses the process boundary: counters, histograms in HdrHistogram's compressed form, recent errors. */
export interface StatsSnapshot {
  readonly counters: Counters;
  /** method handling overhead, nanoseconds */
  readonly methodOverhead: string;
  /** CONNECT to ready, microseconds */
  readonly connectLatency: string;
  readonly recentErrors: readonly string[];
  readonly memory?: NodeJS.MemoryUsage;
}

const MAX_RECENT_ERRORS = 5;

function histogram(): Histogram {
  return hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

export class FleetStats {
  readonly counters: Counters = emptyCounters();
  readonly methodOverhead = histogram();
  readonly connectLatency = histogram();
  private readonly recentErrors: string[] = [];

  /** Keeps the latest few failure messages for the display and the report, and counts the hub's refusals. */
  error(what: string, error: unknown): void {
    const refusal = hubRefusal(error);
    if (refusal === 'throttled') this.counters.throttled++;
    else if (refusal === 'quota') this.counters.quotaExceeded++;
    const text = `${what}: ${error instanceof Error ? error.message : String(error)}`;
    this.recentErrors.push(text);
    if (this.recentErrors.length > MAX_RECENT_ERRORS) this.recentErrors.shift();
  }

  recordMethodOverhead(ms: number): void {
    this.methodOverhead.recordValue(Math.max(1, Math.round(ms * 1e6)));
  }

  recordConnectLatency(ms: number): void {
    this.connectLatency.recordValue(Math.max(1, Math.round(ms * 1e3)));
  }

  snapshot(withMemory = false): StatsSnapshot {
    return {
      counters: { ...this.counters },
      methodOverhead: hdr.encodeIntoCompressedBase64(this.methodOverhead),
      connectLatency: hdr.encodeIntoCompressedBase64(this.connectLatency),
      recentErrors: [...this.recentErrors],
      memory: withMemory ? process.memoryUsage() : undefined,
    };
  }
}

/** The whole fleet's view from the snapshots of its processes. */
export interface MergedStats {
  readonly counters: Counters;
  readonly methodOverhead: Histogram;
  readonly connectLatency: Histogram;
  readonly recentErrors: readonly string[];
}

export function mergeSnapshots(snapshots: readonly StatsSnapshot[]): MergedStats {
  const counters = emptyCounters();
  const methodOverhead = histogram();
  const connectLatency = histogram();
  const recentErrors: string[] = [];
  for (const s of snapshots) {
    for (const key of Object.keys(counters) as (keyof Counters)[]) counters[key] += s.counters[key];
    methodOverhead.add(hdr.decodeFromCompressedBase64(s.methodOverhead));
    connectLatency.add(hdr.decodeFromCompressedBase64(s.connectLatency));
    recentErrors.push(...s.recentErrors);
  }
  return { counters, methodOverhead, connectLatency, recentErrors: recentErrors.slice(-MAX_RECENT_ERRORS) };
}

export type { Histogram };
