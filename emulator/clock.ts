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

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('The clock only moves forward');
    this.offsetMs += ms;
    for (const listener of this.listeners) listener();
  }

  /** Called after every advance, so timers waiting on emulator time can re-arm. */
  onAdvance(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
