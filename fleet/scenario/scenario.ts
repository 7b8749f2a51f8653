import { describeDistribution, isZero, parseDistribution, ZERO, type Distribution } from './distribution.js';
import { formatDuration, parseDuration } from './duration.js';
import { compileTemplate, DEFAULT_TELEMETRY_TEMPLATE } from './telemetry-template.js';

/** How simulated devices misbehave and how fast they arrive: everything a back-end test may want to vary. */
export interface Scenario {
  /** seeds every random choice; the same seed gives the same run */
  readonly seed: number;
  readonly connect: {
    /** new connections per second across the fleet; 0 = as fast as `concurrency` allows */
    readonly rate: number;
    /** connection attempts in flight at once */
    readonly concurrency: number;
    /** spread the first connections evenly over this long (ms) instead of a fixed rate; 0 = off */
    readonly ramp: number;
  };
  /** fraction of devices that are registered but never connect */
  readonly neverConnect: number;
  readonly churn: {
    /** fraction of devices that keep dropping and reconnecting */
    readonly fraction: number;
    /** time connected before a churning device drops */
    readonly interval: Distribution;
    /** time it stays away before reconnecting */
    readonly downtime: Distribution;
  };
  readonly methods: {
    /** added before a method response is sent */
    readonly latency: Distribution;
    /** chance that a call is answered with `errorStatus` instead of the device's answer */
    readonly errorProbability: number;
    readonly errorStatus: number;
  };
  readonly telemetry: {
    /** per device; 0 = no telemetry */
    readonly interval: number;
    readonly template: string;
  };
}

export const defaultScenario: Scenario = {
  seed: 1,
  connect: { rate: 0, concurrency: 100, ramp: 0 },
  neverConnect: 0,
  churn: { fraction: 0, interval: { kind: 'exponential', mean: 60_000 }, downtime: { kind: 'fixed', value: 5_000 } },
  methods: { latency: ZERO, errorProbability: 0, errorStatus: 500 },
  telemetry: { interval: 0, template: DEFAULT_TELEMETRY_TEMPLATE },
};

export function fraction(value: unknown, what: string): number {
  const n = typeof value === 'string' && value.trim().endsWith('%') ? Number(value.trim().slice(0, -1)) / 100 : Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`${what}: '${String(value)}' is not a fraction between 0 and 1 (or a percentage)`);
  return n;
}

export function wholeNumber(value: unknown, what: string, min = 0): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${what}: '${String(value)}' is not a whole number ≥ ${min}`);
  return n;
}

export function positiveNumber(value: unknown, what: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${what}: '${String(value)}' is not a number ≥ 0`);
  return n;
}

export function methodStatus(value: unknown, what: string): number {
  const n = wholeNumber(value, what, 1);
  if (n > 999) throw new Error(`${what}: '${String(value)}' is not an HTTP-like status`);
  return n;
}

export function template(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what}: a template is a string`);
  compileTemplate(value); // fails early on a malformed placeholder
  return value;
}

/** One line per setting that differs from a quiet fleet, for the start banner and the report. */
export function describeScenario(s: Scenario): string[] {
  const lines = [`seed ${s.seed}`];
  const pace = s.connect.ramp ? `over ${formatDuration(s.connect.ramp)}` : s.connect.rate ? `${s.connect.rate}/s` : 'unthrottled';
  lines.push(`connect ${pace}, ${s.connect.concurrency} at once`);
  if (s.neverConnect) lines.push(`${pct(s.neverConnect)} never connect`);
  if (s.churn.fraction)
    lines.push(`${pct(s.churn.fraction)} churn: up ${describeDistribution(s.churn.interval)}, down ${describeDistribution(s.churn.downtime)}`);
  if (!isZero(s.methods.latency)) lines.push(`method latency ${describeDistribution(s.methods.latency)}`);
  if (s.methods.errorProbability) lines.push(`${pct(s.methods.errorProbability)} of method calls answer ${s.methods.errorStatus}`);
  if (s.telemetry.interval) lines.push(`telemetry every ${formatDuration(s.telemetry.interval)}`);
  return lines;
}

function pct(f: number): string {
  return `${Number((f * 100).toFixed(2))}%`;
}

export { parseDistribution, parseDuration };
