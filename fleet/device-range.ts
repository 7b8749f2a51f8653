// Device ids come from a prefix and an index, zero-padded, so every run (and every shard on every
// machine) names the same devices the same way.

/** Shard k of n, 1-based: `--shard 2/3` is the second third of the range. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** `--shard auto/n`: take whichever of the n shards no other fleet holds (see hub/shard-lease.ts). */
export interface AutoShard {
  readonly index: 'auto';
  readonly count: number;
}

/** Half-open index range [start, end). */
export interface IndexRange {
  readonly start: number;
  readonly end: number;
}

export const WHOLE: Shard = { index: 1, count: 1 };

const MIN_DIGITS = 6;

export function parseShard(text: string): Shard | AutoShard {
  const match = /^\s*(\d+|auto)\s*\/\s*(\d+)\s*$/.exec(text);
  const count = match ? Number(match[2]) : NaN;
  const index = match?.[1] === 'auto' ? 'auto' : Number(match?.[1]);
  if (!match || count < 1 || (index !== 'auto' && (index < 1 || index > count))) {
    throw new Error(`--shard: '${text}' is not k/n with 1 ≤ k ≤ n (e.g. 2/3 is the second of three shards), nor auto/n`);
  }
  return index === 'auto' ? { index, count } : { index, count };
}

/** Width is fixed (at least six digits) so a 100-device run and a 10,000-device run share ids. */
export function deviceId(prefix: string, index: number, total: number): string {
  const digits = Math.max(MIN_DIGITS, String(Math.max(0, total - 1)).length);
  return `${prefix}${String(index).padStart(digits, '0')}`;
}

/** Splits [0, total) into `parts` contiguous ranges whose sizes differ by at most one. */
export function splitRange(range: IndexRange, parts: number): IndexRange[] {
  const size = range.end - range.start;
  const result: IndexRange[] = [];
  for (let i = 0; i < parts; i++) {
    const start = range.start + Math.floor((size * i) / parts);
    const end = range.start + Math.floor((size * (i + 1)) / parts);
    result.push({ start, end });
  }
  return result;
}

export function shardRange(total: number, shard: Shard): IndexRange {
  return splitRange({ start: 0, end: total }, shard.count)[shard.index - 1];
}

export function rangeSize(range: IndexRange): number {
  return range.end - range.start;
}
