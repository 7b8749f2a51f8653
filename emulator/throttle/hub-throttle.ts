import { HubError } from '../errors.js';
import { RateGate } from './rate-gate.js';
import { tierProfile, type ThrottledOperation, type TierName, type TierProfile } from './tiers.js';

/** Throttles stated per minute on the quotas page; the others are stated per second. */
const perMinute = new Set<ThrottledOperation>(['registry', 'query', 'jobs', 'configurations']);

/**
 * Operations that count against the daily message quota, in metered messages. EMULATOR CHOICE
 * (docs/protocol.md §6): a job's device operations are paced by their own throttle and not
 * counted, so a job never fails half-way on the quota.
 */
const metered = new Set<ThrottledOperation>(['d2c', 'c2d', 'methods', 'twinRead', 'twinUpdate']);

export interface ThrottleOptions {
  tier: TierName;
  units: number;
  /** how long shaped work may queue before a request is refused with 429 */
  backlogMs: number;
}

/** What the hub decided for one request. */
export type Admission =
  | { kind: 'now' }
  | { kind: 'later'; delayMs: number }
  | { kind: 'throttled'; error: HubError }
  | { kind: 'quota'; error: HubError };

export interface ThrottleDecision {
  operation: ThrottledOperation;
  outcome: 'delayed' | 'throttled' | 'quota';
  delayMs?: number;
}

const NOW: Admission = { kind: 'now' };

/**
 * The hub's operation throttles and daily quota for one tier (docs/protocol.md §6): every face asks
 * `admit` before doing the work and honours the answer in its own wire form (late answer, 429,
 * CONNACK refusal, closed connection). Off by default: a hub without a tier never builds one.
 */
export class HubThrottle {
  readonly profile: TierProfile;
  private readonly gates = new Map<ThrottledOperation, RateGate>();
  private quotaDay = -1;
  private quotaUsed = 0;
  private readonly listeners = new Set<(decision: ThrottleDecision) => void>();
  /** One refusal per operation, built once: a throttled hub answers many, and an Error's stack costs µs. */
  private readonly refusals = new Map<ThrottledOperation, Admission>();
  private quotaRefusal?: Admission;

  constructor(
    options: ThrottleOptions,
    /** the hub clock: the daily quota resets at 00:00 UTC of emulator time, so tests can move past it */
    private readonly now: () => number,
  ) {
    this.profile = tierProfile(options.tier, options.units);
    for (const [operation, rate] of Object.entries(this.profile.rates) as [ThrottledOperation, number][]) {
      // Job device operations are paced, never refused: a job runs at the tier's rate.
      const burst = operation === 'jobDevice' ? 1 : perMinute.has(operation) ? rate * 60 : rate;
      const backlog = operation === 'jobDevice' ? Number.POSITIVE_INFINITY : options.backlogMs;
      this.gates.set(operation, new RateGate(rate, Math.max(1, Math.floor(burst)), backlog));
    }
  }

  /** Throttle decisions other than "now", for metrics and the recording. */
  onDecision(listener: (decision: ThrottleDecision) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Admits `cost` operations of one class (methods: 4 KB meter units; bulk registry calls: one per
   * device). Real time paces the gates (a throttle is about wall-clock rates); the quota counts
   * days of emulator time.
   */
  admit(operation: ThrottledOperation, cost = 1, bytes = 0): Admission {
    if (metered.has(operation) && !this.chargeQuota(operation, bytes)) {
      this.emit({ operation, outcome: 'quota' });
      this.quotaRefusal ??= {
        kind: 'quota',
        error: new HubError('IotHubQuotaExceeded', `Total number of messages on IotHub exceeded the allocated quota. Max allowed message count: ${this.profile.dailyMessages}. Please try again after the quota resets at 00:00 UTC.`),
      };
      return this.quotaRefusal;
    }
    const wait = this.gates.get(operation)!.admit(Date.now(), cost);
    if (wait === 0) return NOW;
    if (wait < 0) {
      this.emit({ operation, outcome: 'throttled' });
      return this.refusal(operation);
    }
    this.emit({ operation, outcome: 'delayed', delayMs: wait });
    return { kind: 'later', delayMs: wait };
  }

  /**
   * The promise form for async faces: resolves when the work may go (at once when within the rate,
   * without a timer), rejects with the hub's error when throttled or over quota.
   */
  async pass(operation: ThrottledOperation, cost = 1, bytes = 0): Promise<void> {
    const admission = this.admit(operation, cost, bytes);
    if (admission.kind === 'now') return;
    if (admission.kind === 'later') return new Promise((resolve) => setTimeout(resolve, admission.delayMs));
    throw admission.error;
  }

  get quota(): { used: number; limit: number } {
    this.rollDay();
    return { used: this.quotaUsed, limit: this.profile.dailyMessages };
  }

  clear(): void {
    for (const gate of this.gates.values()) gate.clear();
    this.quotaUsed = 0;
  }

  private refusal(operation: ThrottledOperation): Admission {
    let refusal = this.refusals.get(operation);
    if (!refusal) {
      const rate = formatRate(this.profile.rates[operation]);
      const message = `The request rate is too high for ${this.profile.tier} with ${this.profile.units} unit(s) (${operation}: ${rate}). Please back off and retry.`;
      refusal = { kind: 'throttled', error: new HubError('ThrottlingException', message) };
      this.refusals.set(operation, refusal);
    }
    return refusal;
  }

  private chargeQuota(operation: ThrottledOperation, bytes: number): boolean {
    this.rollDay();
    const messages = operation === 'd2c' || operation === 'c2d' || operation === 'methods' ? Math.max(1, Math.ceil(bytes / this.profile.meterBytes)) : 1;
    if (this.quotaUsed + messages > this.profile.dailyMessages) return false;
    this.quotaUsed += messages;
    return true;
  }

  private rollDay(): void {
    const day = Math.floor(this.now() / 86_400_000);
    if (day !== this.quotaDay) {
      this.quotaDay = day;
      this.quotaUsed = 0;
    }
  }

  private emit(decision: ThrottleDecision): void {
    for (const listener of this.listeners) listener(decision);
  }
}

function formatRate(perSecond: number): string {
  return perSecond >= 1 ? `${Number(perSecond.toFixed(2))}/s` : `${Number((perSecond * 60).toFixed(2))}/min`;
}
