import hdr from 'hdr-histogram-js';
import { readFileSync } from 'node:fs';
import type { BenchRow } from './harness.js';

/**
 * Measures one operation against the emulator and against its floor (the bare hub) in the same
 * run, with the same load generator, in alternating slices (emulator, floor, emulator, floor …)
 * so that the noise of a shared machine falls on both sides alike; several such rounds, each figure
 * their median and each ratio the median of the rounds' own ratios.
 */
export interface Side {
  /** the server process whose CPU is read (/proc/{pid}/stat) */
  pid: number;
  /** one call; `i` counts calls, for spreading them over devices */
  op(i: number): Promise<unknown>;
}

export interface SideFigures {
  p50: number;
  p99: number;
  callsPerSecond: number;
  /** server CPU per call during the closed loop, ms */
  cpuMsPerCall: number;
  /** server CPU during the closed loop, share of one core */
  cpuShare: number;
}

export interface CompareOptions {
  sequentialCalls: number;
  inFlight: number;
  throughputSeconds: number;
  slices: number;
  /** whole comparisons, one after the other; the rows give the median of each figure and of each ratio */
  rounds: number;
  /** sequential calls per side before the first round, then a closed-loop second per side */
  warmupCalls: number;
}

// The shared machine moves absolute figures 2–3× between minutes: a figure is the median of
// `rounds` comparisons, each one's ratio taken within itself. IOTHUB_EMULATOR_BENCH_ROUNDS changes
// how many (1 for a quick look).
export const DEFAULT_COMPARE: CompareOptions = {
  sequentialCalls: 3000,
  inFlight: 64,
  throughputSeconds: 9,
  slices: 3,
  rounds: Number(process.env.IOTHUB_EMULATOR_BENCH_ROUNDS ?? 3),
  warmupCalls: 2000,
};

/** One comparison's figures, and with several rounds the median of each over them (ratios: the median of each round's own). */
export interface Comparison {
  emulator: SideFigures;
  floor: SideFigures;
  /** each round's emulator/floor ratio per figure (calls/s: emulator over floor as well) */
  ratios: Record<keyof SideFigures, number[]>;
  rounds: number;
}

export async function compareWithFloor(emulator: Side, floor: Side, options: CompareOptions = DEFAULT_COMPARE): Promise<Comparison> {
  // Both servers warm (JIT, caches, the recording's ring full enough) before anything is measured:
  // the emulator has far more code than the floor to optimise, and a load test runs for minutes.
  for (const side of [emulator, floor]) {
    for (let i = 0; i < options.warmupCalls; i++) await side.op(i);
    await closedLoop(options.inFlight, 1, (i) => side.op(i));
  }
  const rounds: { emulator: SideFigures; floor: SideFigures }[] = [];
  for (let round = 0; round < Math.max(1, options.rounds); round++) {
    rounds.push(await compareOnce(emulator, floor, options));
    const last = rounds.at(-1)!;
    console.log(
      `  round ${round + 1}: p50 ${ratio(last.emulator.p50, last.floor.p50)}, p99 ${ratio(last.emulator.p99, last.floor.p99)}, ` +
        `calls/s ${ratio(last.emulator.callsPerSecond, last.floor.callsPerSecond)}, CPU/call ${ratio(last.emulator.cpuMsPerCall, last.floor.cpuMsPerCall)} ` +
        `(${(last.emulator.cpuMsPerCall * 1000).toFixed(0)} µs vs ${(last.floor.cpuMsPerCall * 1000).toFixed(0)} µs)`,
    );
  }
  const keys = Object.keys(rounds[0]!.emulator) as (keyof SideFigures)[];
  const medianOf = (side: 'emulator' | 'floor'): SideFigures =>
    Object.fromEntries(keys.map((k) => [k, median(rounds.map((r) => r[side][k]))])) as unknown as SideFigures;
  const ratios = Object.fromEntries(keys.map((k) => [k, rounds.map((r) => r.emulator[k] / r.floor[k])])) as Record<keyof SideFigures, number[]>;
  return { emulator: medianOf('emulator'), floor: medianOf('floor'), ratios, rounds: rounds.length };
}

const TAIL_PERCENTILES = [50, 90, 95, 98, 99, 99.5, 99.9, 100];

const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One comparison: sequential latency and the closed loop, emulator and floor in alternating slices. */
async function compareOnce(emulator: Side, floor: Side, options: CompareOptions): Promise<{ emulator: SideFigures; floor: SideFigures }> {
  const sides = [emulator, floor];
  const latency = sides.map(() => hdr.build({ numberOfSignificantValueDigits: 3 }));
  const perSlice = Math.ceil(options.sequentialCalls / options.slices);
  for (let slice = 0; slice < options.slices; slice++) {
    for (let s = 0; s < sides.length; s++) {
      for (let i = 0; i < perSlice; i++) {
        const t0 = performance.now();
        await sides[s]!.op(i);
        latency[s]!.recordValue(Math.round((performance.now() - t0) * 1000));
      }
    }
  }
  // IOTHUB_EMULATOR_BENCH_TAIL=1 prints each round's latency percentiles per side: a p99 that
  // swings between rounds sits on a knee of the distribution, and this shows where the knee is.
  if (process.env.IOTHUB_EMULATOR_BENCH_TAIL) {
    for (const [s, name] of ['emulator', 'floor   '].entries()) {
      const tail = TAIL_PERCENTILES.map((p) => `p${p} ${(latency[s]!.getValueAtPercentile(p) / 1000).toFixed(2)}`);
      console.log(`    ${name} ms: ${tail.join(', ')}`);
    }
  }
  const calls = [0, 0];
  const seconds = [0, 0];
  const cpu = [0, 0];
  const sliceSeconds = options.throughputSeconds / options.slices;
  for (let slice = 0; slice < options.slices; slice++) {
    for (let s = 0; s < sides.length; s++) {
      const cpuBefore = cpuSeconds(sides[s]!.pid);
      const result = await closedLoop(options.inFlight, sliceSeconds, (i) => sides[s]!.op(i));
      cpu[s]! += cpuSeconds(sides[s]!.pid) - cpuBefore;
      calls[s]! += result.calls;
      seconds[s]! += result.seconds;
    }
  }
  const figures = (s: number): SideFigures => ({
    p50: latency[s]!.getValueAtPercentile(50) / 1000,
    p99: latency[s]!.getValueAtPercentile(99) / 1000,
    callsPerSecond: calls[s]! / seconds[s]!,
    cpuMsPerCall: (cpu[s]! * 1000) / calls[s]!,
    cpuShare: cpu[s]! / seconds[s]!,
  });
  return { emulator: figures(0), floor: figures(1) };
}

/** The four rows every path gets: p50, p99, calls/s at N in flight, server CPU per call (medians over the rounds). */
export function floorRows(
  label: string,
  figures: Comparison,
  targets: { p50: string; p99: string; throughput: string /** µs */; cpu?: string },
  inFlight: number,
  devices: number,
): BenchRow[] {
  const { emulator: e, floor: f, ratios } = figures;
  const spread = (values: number[]): string =>
    values.length > 1 ? `ratio median of ${values.length} rounds (${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)})` : 'one round';
  return [
    {
      metric: `${label}: sequential p50`,
      value: e.p50,
      unit: 'ms',
      target: targets.p50,
      baseline: f.p50,
      ratio: median(ratios.p50),
      note: `baseline: the bare hub (floor), same load generator, same run; ${spread(ratios.p50)}`,
    },
    { metric: `${label}: sequential p99`, value: e.p99, unit: 'ms', target: targets.p99, baseline: f.p99, ratio: median(ratios.p99), note: spread(ratios.p99) },
    {
      metric: `${label}: calls/s, ${inFlight} in flight over ${devices} devices`,
      value: e.callsPerSecond,
      unit: 'calls/s',
      target: targets.throughput,
      baseline: f.callsPerSecond,
      ratio: median(ratios.callsPerSecond),
      note: `${spread(ratios.callsPerSecond)}; server CPU: emulator ${(e.cpuShare * 100).toFixed(0)}% of a core, floor ${(f.cpuShare * 100).toFixed(0)}%`,
    },
    {
      metric: `${label}: server CPU per call`,
      value: e.cpuMsPerCall * 1000,
      unit: 'µs',
      target: targets.cpu,
      baseline: f.cpuMsPerCall * 1000,
      ratio: median(ratios.cpuMsPerCall),
      note: `${spread(ratios.cpuMsPerCall)}; /proc/{pid}/stat over the closed loop, both sides alike`,
    },
  ];
}

/** CPU seconds a process has used so far (Linux /proc; clock ticks of 10 ms). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function closedLoop(inFlight: number, seconds: number, op: (i: number) => Promise<unknown>): Promise<{ calls: number; seconds: number }> {
  let done = 0;
  let next = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        await op(next++);
        done++;
      }
    }),
  );
  return { calls: done, seconds: (performance.now() - started) / 1000 };
}
