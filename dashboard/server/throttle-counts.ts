import type { DashboardDeps } from './deps.js';

/** The metric /metrics shows for every throttle decision other than "go now" (docs/throttling-and-faults.md). */
export const THROTTLED_METRIC = 'iothub_emulator_throttled_total';

export interface ThrottleCount {
  operation: string;
  outcome: string;
  count: number;
}

/**
 * `iothub_emulator_throttled_total` by operation and outcome, read from the hub's own metrics
 * registry so the Faults page shows exactly what `/metrics` does (reset clears both).
 */
export async function throttleCounts(metrics: DashboardDeps['metrics']): Promise<ThrottleCount[]> {
  const metric = metrics.registry.getSingleMetric(THROTTLED_METRIC);
  if (!metric) return [];
  const { values } = await metric.get();
  return values
    .filter((v) => v.value > 0)
    .map((v) => ({ operation: String(v.labels.operation ?? ''), outcome: String(v.labels.outcome ?? ''), count: v.value }))
    .sort((a, b) => a.operation.localeCompare(b.operation) || a.outcome.localeCompare(b.outcome));
}

/** What the Faults page follows live: the decisions so far and, with a tier, the day's quota. */
export interface ThrottlingView {
  counts: ThrottleCount[];
  quota?: { used: number; limit: number };
}

export async function throttlingView(deps: Pick<DashboardDeps, 'metrics' | 'throttle'>): Promise<ThrottlingView> {
  const counts = await throttleCounts(deps.metrics);
  return deps.throttle ? { counts, quota: deps.throttle.quota } : { counts };
}
