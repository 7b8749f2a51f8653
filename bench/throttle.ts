import { HubThrottle } from '../emulator/throttle/hub-throttle.js';
import { throttledOperations } from '../emulator/throttle/tiers.js';
import type { Bench, BenchRow } from './support/harness.js';

const DECISIONS = 2_000_000;

/** Nanoseconds per call of `step`, the median of five timed rounds after a warm-up. */
function nsPerCall(step: (i: number) => unknown): number {
  let sink = 0;
  const rounds: number[] = [];
  for (let r = 0; r < 6; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < DECISIONS; i++) if (step(i)) sink++;
    const ns = Number(process.hrtime.bigint() - start) / DECISIONS;
    if (r > 0) rounds.push(ns);
  }
  if (sink < 0) console.log(sink);
  return rounds.sort((a, b) => a - b)[2];
}

export const bench: Bench = {
  name: 'throttle',
  description: 'the limiter itself: one admission decision with --tier S3 --units 10, across every operation class',
  async run(): Promise<BenchRow[]> {
    const ops = throttledOperations;
    // The floor: the same loop picking an operation and reading the clock, without deciding.
    const floor = nsPerCall((i) => Date.now() > 0 && ops[i % ops.length].length > 0);
    // Far more decisions than S3 admits per second, so most classes soon answer "throttled" and
    // the rest "now": both paths are in the figure.
    const throttle = new HubThrottle({ tier: 'S3', units: 10, backlogMs: 1000 }, () => Date.now());
    let throttled = 0;
    throttle.onDecision((d) => {
      if (d.outcome === 'throttled') throttled++;
    });
    const decision = nsPerCall((i) => throttle.admit(ops[i % ops.length]).kind === 'now');
    const within = new HubThrottle({ tier: 'S3', units: 10, backlogMs: 1000 }, () => Date.now());
    const admitted = nsPerCall((i) => within.admit('d2c', 1, i & 1023).kind === 'now');
    return [
      { metric: 'admission decision, every class, S3 × 10 units', value: decision / 1000, unit: 'µs', target: '≤ 2', baseline: floor / 1000, note: `baseline: the loop and clock read alone; ${Math.round((throttled / (DECISIONS * 6)) * 100)}% throttled` },
      { metric: 'metered d2c decision (quota + rate)', value: admitted / 1000, unit: 'µs', target: '≤ 2', baseline: floor / 1000 },
    ];
  },
};
