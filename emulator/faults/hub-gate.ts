import type { HubError } from '../errors.js';
import type { HubEvents } from '../events.js';
import type { HubThrottle } from '../throttle/hub-throttle.js';
import type { ThrottledOperation } from '../throttle/tiers.js';
import type { FaultInjector, OperationFault } from './fault-injector.js';

/** A decision for work that can wait: go on, wait first, or fail with the hub's error (after a delay, maybe). */
export type GateDecision = undefined | { delayMs: number; error?: HubError };

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The one place each face asks "may this happen now?": the tier's throttles and quota
 * (docs/protocol.md §6) and the chaos rules in force. With no tier and no rules every question
 * returns undefined without allocating, so an emulator nobody asked to say no pays nothing.
 */
export class HubGate {
  constructor(
    readonly throttle: HubThrottle | undefined,
    readonly faults: FaultInjector,
    private readonly events: HubEvents,
  ) {
    throttle?.onDecision((decision) => events.emit('throttled', decision));
  }

  get idle(): boolean {
    return this.throttle === undefined && !this.faults.active;
  }

  /**
   * An operation of `operation`'s class, for `deviceId` where it has one; `fault` is the chaos
   * rule check to apply (a device operation or a REST route), `cost` and `bytes` what the throttle
   * and the quota charge.
   */
  check(operation: ThrottledOperation | undefined, fault: (() => OperationFault | undefined) | undefined, cost = 1, bytes = 0): GateDecision {
    let delayMs = 0;
    if (operation && this.throttle) {
      const admission = this.throttle.admit(operation, cost, bytes);
      if (admission.kind === 'throttled' || admission.kind === 'quota') return { delayMs: 0, error: admission.error };
      if (admission.kind === 'later') delayMs = admission.delayMs;
    }
    const injected = fault && this.faults.active ? fault() : undefined;
    if (injected) {
      this.events.emit('faultApplied', { what: injected.error ? `failed with ${injected.error.errorName}` : `delayed ${injected.delayMs} ms`, operation: operation ?? 'rest' });
      return { delayMs: delayMs + injected.delayMs, error: injected.error };
    }
    return delayMs > 0 ? { delayMs } : undefined;
  }

  /** The promise form: resolves when the work may go, rejects with the hub's error. */
  static async honour(decision: GateDecision): Promise<void> {
    if (!decision) return;
    if (decision.delayMs > 0) await wait(decision.delayMs);
    if (decision.error) throw decision.error;
  }
}
