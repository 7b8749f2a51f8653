// Durations as people write them in flags and scenario files: 250ms, 5s, 2m, 1h, or a bare number of milliseconds.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds; throws with the offending text when it is not a duration. */
export function parseDuration(value: unknown, what = 'duration'): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
    if (match) return Number(match[1]) * UNITS[match[2] ?? 'ms'];
  }
  throw new Error(`${what}: '${String(value)}' is not a duration (e.g. 250ms, 5s, 2m, or a number of milliseconds)`);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 59_500) return `${(ms / 1000).toFixed(ms < 9_950 ? 1 : 0)}s`;
  // Rounded to whole seconds before splitting, so 119.6 s reads 2m, never 1m60s.
  const totalSeconds = Math.round(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  return minutes < 60 ? `${minutes}m${seconds ? `${seconds}s` : ''}` : `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}
