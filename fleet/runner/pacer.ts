/**
 * Admits connection attempts at most `rate` per second (a token bucket with a 50 ms burst) and at
 * most `concurrency` at once, first come first served. Ramps, reconnects after churn and retries
 * all queue here, so a fleet never storms the hub.
 */
export class Pacer {
  // An array with a moving head: shift() on 10,000 waiting devices would be quadratic.
  private queue: (() => void)[] = [];
  private head = 0;
  private active = 0;
  private tokens: number;
  private refilledAt = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly burst: number;

  constructor(
    private readonly rate: number,
    private readonly concurrency: number,
  ) {
    this.burst = rate > 0 ? Math.max(1, rate / 20) : Infinity;
    this.tokens = Math.min(this.burst, 1);
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Runs `task` when admitted; rejects if the pacer is closed first. */
  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('stopping'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        if (this.closed) {
          this.active--;
          reject(new Error('stopping'));
          return;
        }
        task()
          .then(resolve, reject)
          .finally(() => {
            this.active--;
            this.pump();
          });
      });
      this.pump();
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const waiting = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const start of waiting) {
      this.active++;
      start();
    }
  }

  private pump(): void {
    if (this.timer) return;
    while (this.waiting > 0 && this.active < this.concurrency) {
      if (this.rate > 0) {
        const now = performance.now();
        this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.rate) / 1000);
        this.refilledAt = now;
        if (this.tokens < 1) {
          const wait = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.pump();
          }, wait);
          return;
        }
        this.tokens -= 1;
      }
      this.active++;
      const start = this.queue[this.head++];
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      start();
    }
  }
}
