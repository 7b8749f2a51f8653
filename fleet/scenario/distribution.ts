import { parseDuration } from './duration.js';
import type { Random } from './random.js';

/** A delay that is fixed or drawn from a distribution; all values in milliseconds. */
export type Distribution =
  | { readonly kind: 'fixed'; readonly value: number }
  | { readonly kind: 'uniform'; readonly min: number; readonly max: number }
  | { readonly kind: 'normal'; readonly mean: number; readonly stddev: number }
  | { readonly kind: 'exponential'; readonly mean: number };

export const ZERO: Distribution = { kind: 'fixed', value: 0 };

/**
 * Reads the forms a flag or a scenario file may use:
 * `50`, `50ms`, `2s` (fixed) · `uniform:10ms,100ms` · `normal:50ms,10ms` (mean, stddev) · `exponential:30s` (mean),
 * or objects `{distribution: normal, mean: 50ms, stddev: 10ms}`, `{distribution: uniform, min, max}`, …
 */
export function parseDistribution(value: unknown, what: string): Distribution {
  if (typeof value === 'number') return { kind: 'fixed', value: parseDuration(value, what) };
  if (typeof value === 'string') return parseDistributionText(value, what);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const kind = String(o.distribution ?? o.kind ?? 'fixed').toLowerCase();
    const d = (key: string): number => {
      if (o[key] === undefined) throw new Error(`${what}: a ${kind} distribution needs '${key}'`);
      return parseDuration(o[key], `${what}.${key}`);
    };
    return checked(build(kind, d, what), what);
  }
  throw new Error(`${what}: '${String(value)}' is not a duration or a distribution`);
}

function parseDistributionText(text: string, what: string): Distribution {
  const colon = text.indexOf(':');
  if (colon < 0) return { kind: 'fixed', value: parseDuration(text, what) };
  const kind = text.slice(0, colon).trim().toLowerCase();
  const args = text
    .slice(colon + 1)
    .split(',')
    .map((a) => a.trim());
  const names: Record<string, string[]> = { fixed: ['value'], uniform: ['min', 'max'], normal: ['mean', 'stddev'], exponential: ['mean'], exp: ['mean'] };
  const expected = names[kind];
  if (!expected) throw new Error(`${what}: unknown distribution '${kind}' (fixed, uniform, normal, exponential)`);
  if (args.length !== expected.length) throw new Error(`${what}: '${text}' — ${kind} takes ${expected.join(', ')}`);
  return checked(
    build(kind, (key) => parseDuration(args[expected.indexOf(key)], `${what}.${key}`), what),
    what,
  );
}

function build(kind: string, d: (key: string) => number, what: string): Distribution {
  switch (kind) {
    case 'fixed':
      return { kind: 'fixed', value: d('value') };
    case 'uniform':
      return { kind: 'uniform', min: d('min'), max: d('max') };
    case 'normal':
      return { kind: 'normal', mean: d('mean'), stddev: d('stddev') };
    case 'exponential':
    case 'exp':
      return { kind: 'exponential', mean: d('mean') };
    default:
      throw new Error(`${what}: unknown distribution '${kind}' (fixed, uniform, normal, exponential)`);
  }
}

function checked(dist: Distribution, what: string): Distribution {
  if (dist.kind === 'uniform' && dist.max < dist.min) throw new Error(`${what}: uniform max is below min`);
  return dist;
}

/** Draws one value (never negative: a normal tail below zero is clamped). */
export function sample(dist: Distribution, random: Random): number {
  switch (dist.kind) {
    case 'fixed':
      return dist.value;
    case 'uniform':
      return dist.min + (dist.max - dist.min) * random();
    case 'normal': {
      // Box–Muller; 1 - random() keeps the logarithm away from zero.
      const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      return Math.max(0, dist.mean + dist.stddev * z);
    }
    case 'exponential':
      return -dist.mean * Math.log(1 - random());
  }
}

export function isZero(dist: Distribution): boolean {
  return dist.kind === 'fixed' && dist.value === 0;
}

export function describeDistribution(dist: Distribution): string {
  switch (dist.kind) {
    case 'fixed':
      return `${dist.value}ms`;
    case 'uniform':
      return `uniform ${dist.min}–${dist.max}ms`;
    case 'normal':
      return `normal mean ${dist.mean}ms sd ${dist.stddev}ms`;
    case 'exponential':
      return `exponential mean ${dist.mean}ms`;
  }
}
