import hdr from 'hdr-histogram-js';

/**
 * p50 and p99 in milliseconds of `samples` calls of `op` made one after another, after `warmUp`
 * calls that are not measured (recorded in microseconds).
 */
export async function sequentialLatency(op: () => Promise<unknown>, samples: number, warmUp: number): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < warmUp; i++) await op();
  const h = hdr.build({ numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await op();
    h.recordValue(Math.round((performance.now() - t0) * 1000));
  }
  return { p50: h.getValueAtPercentile(50) / 1000, p99: h.getValueAtPercentile(99) / 1000 };
}
