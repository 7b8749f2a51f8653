import type { FleetConfig } from './config.js';
import { rangeSize, type IndexRange, type Shard } from './device-range.js';
import { errorCount, type Histogram, type MergedStats } from './runner/fleet-stats.js';

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** The final JSON report (`--report FILE`). */
export interface FleetReport {
  readonly hub: string;
  readonly engine: string;
  readonly prefix: string;
  readonly shard: string;
  readonly workers: number;
  readonly seed: number;
  readonly startedAt: string;
  readonly stoppedAt: string;
  readonly runSeconds: number;
  readonly devices: { readonly fleet: number; readonly shard: number; readonly firstIndex: number; readonly lastIndex: number; readonly neverConnect: number };
  readonly connect: {
    readonly attempts: number;
    readonly failures: number;
    readonly everConnected: number;
    readonly connectedAtStop: number;
    /** from the first attempt until every device had made one */
    readonly rampSeconds: number | null;
    readonly latencyMs: Percentiles;
  };
  readonly churn: { readonly drops: number; readonly reconnects: number };
  readonly connectionsLost: number;
  readonly tokenRenewals: number;
  readonly methods: {
    readonly calls: number;
    readonly responses: number;
    readonly errorResponses: number;
    /** request arrival at the device to response publish, minus the scenario's latency */
    readonly handlingOverheadMs: Percentiles;
  };
  readonly twin: { readonly desiredPatches: number; readonly reportedPatches: number; readonly reportedFailures: number };
  readonly telemetry: { readonly sent: number; readonly failures: number };
  /** failures that were the hub refusing on purpose (counted in the failures above too) */
  readonly hubRefusals: { readonly throttled: number; readonly quotaExceeded: number };
  readonly errors: { readonly total: number; readonly recent: readonly string[] };
}

export interface RunTimes {
  readonly startedAt: Date;
  readonly stoppedAt: Date;
  readonly rampMs: number | undefined;
}

export function buildReport(config: FleetConfig, shard: Shard, range: IndexRange, stats: MergedStats, connectedAtStop: number, times: RunTimes): FleetReport {
  const c = stats.counters;
  return {
    hub: hostOf(config.connectionString),
    engine: config.engine,
    prefix: config.prefix,
    shard: `${shard.index}/${shard.count}`,
    workers: config.workers,
    seed: config.scenario.seed,
    startedAt: times.startedAt.toISOString(),
    stoppedAt: times.stoppedAt.toISOString(),
    runSeconds: round((times.stoppedAt.getTime() - times.startedAt.getTime()) / 1000),
    devices: { fleet: config.devices, shard: rangeSize(range), firstIndex: range.start, lastIndex: range.end - 1, neverConnect: c.neverConnect },
    connect: {
      attempts: c.connectAttempts,
      failures: c.connectFailures,
      everConnected: c.everConnected,
      connectedAtStop,
      rampSeconds: times.rampMs === undefined ? null : round(times.rampMs / 1000),
      latencyMs: percentiles(stats.connectLatency, 1e3),
    },
    churn: { drops: c.drops, reconnects: c.reconnects },
    connectionsLost: c.connectionsLost,
    tokenRenewals: c.tokenRenewals,
    methods: { calls: c.methodCalls, responses: c.methodResponses, errorResponses: c.methodErrorResponses, handlingOverheadMs: percentiles(stats.methodOverhead, 1e6) },
    twin: { desiredPatches: c.desiredPatches, reportedPatches: c.reportedPatches, reportedFailures: c.reportedFailures },
    telemetry: { sent: c.telemetrySent, failures: c.telemetryFailures },
    hubRefusals: { throttled: c.throttled, quotaExceeded: c.quotaExceeded },
    errors: { total: errorCount(c), recent: stats.recentErrors },
  };
}

/** Percentiles in milliseconds of a histogram recorded in units of 1/`perMs` ms. */
export function percentiles(h: Histogram, perMs: number): Percentiles {
  const at = (p: number): number => (h.totalCount ? round(h.getValueAtPercentile(p) / perMs, 4) : 0);
  return { count: h.totalCount, p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: h.totalCount ? round(h.maxValue / perMs, 4) : 0 };
}

function round(n: number, digits = 3): number {
  return Number(n.toFixed(digits));
}

function hostOf(connectionString: string): string {
  return /HostName=([^;]+)/i.exec(connectionString)?.[1] ?? 'unknown';
}
