import { CLOCK_MAX_OFFSET_SECONDS } from './limits.js';

/**
 * The emulator's notion of "now" for scheduling. Real time plus an offset that users (and tests)
 * may push forward, so a job scheduled an hour ahead can run now. Wall-clock facts that a device
 * or SDK checks against its own clock (SAS expiry, $lastUpdated) deliberately use real time.
 */
export class Clock {
  private offsetMs = 0;
  private readonly listeners = new Set<() => void>();

  now(): number {
    return Date.now() + this.offsetMs;
  }

  get offset(): number {
    return this.offsetMs;
  }

  /** Moves the clock forward; a RangeError (nothing moves) for a negative step or one past the cap. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('The clock only moves forward');
    if ((this.offsetMs + ms) / 1000 > CLOCK_MAX_OFFSET_SECONDS) {
      throw new RangeError(`The clock can run at most ${CLOCK_MAX_OFFSET_SECONDS} seconds (100 years) ahead of real time.`);
    }
    this.offsetMs += ms;
    for (const listener of this.listeners) listener();
  }

  /** Called after every advance, so timers waiting on emulator time can re-arm. */
  onAdvance(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
