import { TIMER_MAX_DELAY_MS, type Clock } from '../emulator/index.js';

interface Entry {
  dueMs: number;
  fire: () => void;
  timeout?: NodeJS.Timeout;
  immediate?: NodeJS.Immediate;
}

// setTimeout overflows past TIMER_MAX_DELAY_MS and would fire at once; longer waits re-check.

/**
 * Timers on the emulator's clock rather than on Date.now(): a job's start time and its
 * maxExecutionTimeInSeconds both fire early when the clock is moved forward, because every
 * advance re-arms every timer against the new "now".
 */
export class ClockTimers {
  private readonly entries = new Set<Entry>();
  private readonly unsubscribe: () => void;

  constructor(private readonly clock: Clock) {
    this.unsubscribe = clock.onAdvance(() => {
      for (const entry of this.entries) this.arm(entry);
    });
  }

  /** Calls `fire` once the clock reads `dueMs` or later (never synchronously); returns a cancel function. */
  at(dueMs: number, fire: () => void): () => void {
    const entry: Entry = { dueMs, fire };
    this.entries.add(entry);
    this.arm(entry);
    return () => this.clear(entry);
  }

  close(): void {
    this.unsubscribe();
    for (const entry of this.entries) this.clear(entry);
  }

  private arm(entry: Entry): void {
    this.stopHandle(entry);
    const delay = entry.dueMs - this.clock.now();
    const run = (): void => {
      entry.timeout = undefined;
      entry.immediate = undefined;
      if (!this.entries.has(entry)) return;
      if (entry.dueMs > this.clock.now()) {
        this.arm(entry);
        return;
      }
      this.entries.delete(entry);
      entry.fire();
    };
    // Due entries still go through the event loop, so an advance made inside a request handler
    // answers before the jobs it releases start.
    if (delay <= 0) entry.immediate = setImmediate(run);
    else entry.timeout = setTimeout(run, Math.min(delay, TIMER_MAX_DELAY_MS)).unref();
  }

  private clear(entry: Entry): void {
    this.stopHandle(entry);
    this.entries.delete(entry);
  }

  private stopHandle(entry: Entry): void {
    if (entry.timeout) clearTimeout(entry.timeout);
    if (entry.immediate) clearImmediate(entry.immediate);
    entry.timeout = undefined;
    entry.immediate = undefined;
  }
}
