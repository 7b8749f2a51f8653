/**
 * A rate limit with traffic shaping, as IoT Hub applies its operation throttles: work within the
 * rate passes at once, a burst beyond it is queued and let through at the rate (answered late),
 * and once the queue would hold more than `backlogMs` of work the request is refused (429).
 *
 * This is the generic cell rate algorithm (a token bucket kept as one number, the theoretical
 * arrival time): O(1), no timers and no allocation per decision, so a face can ask it on every
 * call and schedule at most one timer itself when it is told to wait. A library queue would hold
 * a promise and a timer per waiting request, which costs more than the 2 µs budget a decision has.
 */
export class RateGate {
  private readonly intervalMs: number;
  private readonly burstMs: number;
  /** when the work admitted so far will have drained at the rate */
  private tat = 0;

  constructor(
    readonly ratePerSecond: number,
    /** how much work may pass at once, in operations (at least 1) */
    burst: number,
    /** how long the queue of shaped work may get before requests are refused; Infinity never refuses */
    private readonly backlogMs: number,
  ) {
    this.intervalMs = 1000 / ratePerSecond;
    this.burstMs = Math.max(1, burst) * this.intervalMs - this.intervalMs;
  }

  /**
   * Admits `cost` operations at `nowMs`: 0 means go now, a positive number is how many
   * milliseconds to hold the request first, and -1 means refused (nothing is charged).
   */
  admit(nowMs: number, cost = 1): number {
    const start = this.tat > nowMs ? this.tat : nowMs;
    const wait = start - nowMs - this.burstMs;
    if (wait > this.backlogMs) return -1;
    this.tat = start + cost * this.intervalMs;
    return wait > 0 ? wait : 0;
  }

  /** Forgets all admitted work (a reset of the hub). */
  clear(): void {
    this.tat = 0;
  }
}
