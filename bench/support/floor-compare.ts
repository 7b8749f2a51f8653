import hdr from 'hdr-histogram-js';
import { readFileSync } from 'node:fs';
import type { BenchRow } from './harness.js';

/**
 * Measures one operation against the emulator and against its floor (the bare hub) in the same
 * run, with the same load generator, in alternating slices (emulator, floor, emulator, floor …)
 * so that the noise of a shared machine falls on both sides alike.
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
}

export const DEFAULT_COMPARE: CompareOptions = { sequentialCalls: 3000, inFlight: 64, throughputSeconds: 9, slices: 3 };

export async function compareWithFloor(
  emulator: Side,
  floor: Side,
  options: CompareOptions = DEFAULT_COMPARE,
): Promise<{ emulator: SideFigures; floor: SideFigures }> {
  const sides = [emulator, floor];
  const latency = sides.map(() => hdr.build({ numberOfSignificantValueDigits: 3 }));
  for (const side of sides) for (let i = 0; i < 300; i++) await side.op(i);
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

/** The four rows every path gets: p50, p99, calls/s at N in flight, server CPU per call. */
export function floorRows(
  label: string,
  figures: { emulator: SideFigures; floor: SideFigures },
  targets: { p50: string; p99: string; throughput: string /** µs */; cpu?: string },
  inFlight: number,
  devices: number,
): BenchRow[] {
  const { emulator: e, floor: f } = figures;
  return [
    {
      metric: `${label}: sequential p50`,
      value: e.p50,
      unit: 'ms',
      target: targets.p50,
      baseline: f.p50,
      note: 'baseline: the bare hub (floor), same load generator, same run',
    },
    { metric: `${label}: sequential p99`, value: e.p99, unit: 'ms', target: targets.p99, baseline: f.p99 },
    {
      metric: `${label}: calls/s, ${inFlight} in flight over ${devices} devices`,
      value: e.callsPerSecond,
      unit: 'calls/s',
      target: targets.throughput,
      baseline: f.callsPerSecond,
      note: `server CPU: emulator ${(e.cpuShare * 100).toFixed(0)}% of a core, floor ${(f.cpuShare * 100).toFixed(0)}%`,
    },
    {
      metric: `${label}: server CPU per call`,
      value: e.cpuMsPerCall * 1000,
      unit: 'µs',
      target: targets.cpu,
      baseline: f.cpuMsPerCall * 1000,
      note: 'read from /proc/{pid}/stat over the closed loop, both sides alike',
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
