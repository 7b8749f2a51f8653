import type { SubscriptionKind } from '../protocol/topics.js';

interface Waiter {
  kind: SubscriptionKind;
  resolve: (online: boolean) => void;
  timer: NodeJS.Timeout;
}

/**
 * Calls waiting for a device to subscribe (a method or desired patch sent to a device that is
 * connecting): the MQTT and AMQP faces each keep one, and ask it again whenever a device
 * connects or subscribes. `isSubscribed` is the face's own answer.
 */
export class SubscriptionWaiters {
  private readonly waiters = new Map<string, Set<Waiter>>();

  constructor(private readonly isSubscribed: (deviceId: string, kind: SubscriptionKind) => boolean) {}

  /** Resolves true once the device holds `kind`, or false after `timeoutMs`. */
  wait(deviceId: string, kind: SubscriptionKind, timeoutMs: number): Promise<boolean> {
    if (this.isSubscribed(deviceId, kind)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const set = this.waiters.get(deviceId) ?? new Set<Waiter>();
      this.waiters.set(deviceId, set);
      const waiter: Waiter = {
        kind,
        resolve,
        timer: setTimeout(() => {
          set.delete(waiter);
          if (set.size === 0) this.waiters.delete(deviceId);
          resolve(false);
        }, timeoutMs),
      };
      set.add(waiter);
    });
  }

  /** Releases the waiters of `deviceId` whose subscription now exists. */
  wake(deviceId: string): void {
    const set = this.waiters.get(deviceId);
    if (!set) return;
    for (const waiter of set) {
      if (!this.isSubscribed(deviceId, waiter.kind)) continue;
      clearTimeout(waiter.timer);
      set.delete(waiter);
      waiter.resolve(true);
    }
    if (set.size === 0) this.waiters.delete(deviceId);
  }

  /** Answers every waiter false (the face is closing). */
  clear(): void {
    for (const set of this.waiters.values()) {
      for (const waiter of set) {
        clearTimeout(waiter.timer);
        waiter.resolve(false);
      }
    }
    this.waiters.clear();
  }
}
