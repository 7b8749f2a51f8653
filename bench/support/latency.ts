import hdr from 'hdr-histogram-js';

/** Latencies in milliseconds (recorded in microseconds): how many calls, their p50, p99 and longest. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * p50 and p99 in milliseconds of `samples` calls of `op` made one after another, after `warmUp`
 * calls that are not measured (recorded in microseconds).
 */
export async function sequentialLatency(op: () => Promise<unknown>, samples: number, warmUp: number): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < warmUp; i++) await op();
  const { p50, p99 } = await latencyUntil(op, () => false, samples);
  return { p50, p99 };
}

/**
 * Calls `op(i)` (i = 0, 1, …) one after another, timing each, until `stop()` says so before a call
 * or `limit` calls have been made.
 */
export async function latencyUntil(op: (i: number) => Promise<unknown>, stop: () => boolean, limit = Number.POSITIVE_INFINITY): Promise<LatencySummary> {
  const h = hdr.build({ numberOfSignificantValueDigits: 3 });
  let count = 0;
  while (!stop() && count < limit) {
    const t0 = performance.now();
    await op(count);
    h.recordValue(Math.round((performance.now() - t0) * 1000));
    count++;
  }
  return { count, p50: h.getValueAtPercentile(50) / 1000, p99: h.getValueAtPercentile(99) / 1000, max: h.maxValue / 1000 };
}
