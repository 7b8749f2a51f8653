import { createHash } from 'node:crypto';
import prand from 'pure-rand';
import { HubError } from '../errors.js';
import { readFaultRule, type DeviceTarget, type FaultOperation, type FaultRule } from './fault-rule.js';

/** What the hub can be made to do by a rule that acts at once. */
export interface FaultActions {
  /** closes the connections of the devices `select` picks; returns their ids */
  disconnect(select: (deviceId: string) => boolean): string[];
}

export interface OperationFault {
  delayMs: number;
  error?: HubError;
}

export type FaultEvent = { type: 'added'; rule: FaultRule; affected?: string[] } | { type: 'removed'; rule: FaultRule; reason: 'removed' | 'expired' };

interface ActiveRule {
  rule: FaultRule;
  expiresAtMs: number;
  /** the rule's own stream, so the same seed fails the same calls in the same order */
  rng: prand.RandomGenerator;
  timer?: NodeJS.Timeout;
}

/**
 * The chaos API's rules in force (docs/protocol.md "Throttling and faults"). Faces ask it at the one
 * point each where a fault can happen (connect, a twin or method operation, a REST route, PUBACK,
 * telemetry); with no rules every question is a Map size check, so an emulator nobody asked for
 * faults pays nothing.
 */
export class FaultInjector {
  private readonly rules = new Map<string, ActiveRule>();
  private readonly listeners = new Set<(event: FaultEvent) => void>();
  private next = 1;

  constructor(private readonly actions: FaultActions) {}

  get active(): boolean {
    return this.rules.size > 0;
  }

  onEvent(listener: (event: FaultEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Validates and applies a rule; rules that act at once (dropConnections, restart) do so here. */
  add(input: unknown): { rule: FaultRule; affected?: string[] } {
    const rule = readFaultRule(input, String(this.next), new Date());
    this.next++;
    const entry: ActiveRule = {
      rule,
      expiresAtMs: rule.expiresAt ? Date.parse(rule.expiresAt) : Number.POSITIVE_INFINITY,
      rng: prand.xoroshiro128plus(rule.seed),
    };
    let affected: string[] | undefined;
    if (rule.kind === 'dropConnections' || rule.kind === 'restart') {
      const target = rule.kind === 'restart' ? {} : rule.target;
      affected = this.actions.disconnect((deviceId) => targets(rule, target, deviceId));
    }
    // dropConnections acts once; it stays listed only while it has a duration (connects in it are dropped too).
    if (rule.kind !== 'dropConnections' || rule.durationSeconds) {
      this.rules.set(rule.id, entry);
      if (Number.isFinite(entry.expiresAtMs)) {
        entry.timer = setTimeout(() => this.expire(rule.id), entry.expiresAtMs - Date.now());
        entry.timer.unref();
      }
    }
    this.emit({ type: 'added', rule, affected });
    return { rule, affected };
  }

  list(): FaultRule[] {
    return [...this.rules.values()].map((entry) => entry.rule);
  }

  get(id: string): FaultRule | undefined {
    return this.rules.get(id)?.rule;
  }

  remove(id: string): boolean {
    const entry = this.rules.get(id);
    if (!entry) return false;
    this.drop(entry, 'removed');
    return true;
  }

  clear(): void {
    for (const entry of [...this.rules.values()]) this.drop(entry, 'removed');
  }

  /** A CONNACK return code when a connect of this device must be refused. */
  connectRefusal(deviceId: string): number | undefined {
    if (this.rules.size === 0) return undefined;
    for (const { rule } of this.rules.values()) {
      if (rule.kind === 'restart') return 3;
      if ((rule.kind === 'refuseConnects' || rule.kind === 'dropConnections') && targets(rule, rule.target, deviceId)) {
        return rule.kind === 'refuseConnects' ? rule.connackCode : 3;
      }
    }
    return undefined;
  }

  /** A delay and/or an error for one operation, or undefined to go on as usual. */
  operationFault(operation: Exclude<FaultOperation, 'rest'>, deviceId: string): OperationFault | undefined {
    if (this.rules.size === 0) return undefined;
    return this.firstFault((rule) => rule.operation === operation && targets(rule, rule.target, deviceId));
  }

  /** The same for a REST call (any route), matched by path prefix and method. */
  restFault(method: string, path: string): OperationFault | undefined {
    if (this.rules.size === 0) return undefined;
    const lower = path.toLowerCase();
    return this.firstFault(
      (rule) =>
        rule.operation === 'rest' &&
        (rule.method === undefined || rule.method === method.toUpperCase()) &&
        (rule.route === undefined || lower.startsWith(rule.route.toLowerCase())),
    );
  }

  /** How long to hold the PUBACK of this device's telemetry. */
  pubackDelay(deviceId: string): number {
    if (this.rules.size === 0) return 0;
    for (const entry of this.rules.values()) {
      const { rule } = entry;
      if (rule.kind === 'delayPubacks' && targets(rule, rule.target, deviceId) && draw(entry) < rule.fraction) return rule.delayMs;
    }
    return 0;
  }

  /** Whether this message of this device is to be acknowledged and then lost. */
  dropsTelemetry(deviceId: string): boolean {
    if (this.rules.size === 0) return false;
    for (const entry of this.rules.values()) {
      const { rule } = entry;
      if (rule.kind === 'dropTelemetry' && targets(rule, rule.target, deviceId) && draw(entry) < rule.fraction) return true;
    }
    return false;
  }

  private firstFault(matches: (rule: FaultRule) => boolean): OperationFault | undefined {
    for (const entry of this.rules.values()) {
      const { rule } = entry;
      if (rule.kind !== 'failOperations' || !matches(rule)) continue;
      if (draw(entry) >= rule.fraction) continue;
      return {
        delayMs: rule.delayMs,
        error: rule.errorCode ? new HubError(rule.errorCode, `Fault injected by the emulator's chaos rule ${rule.id}.`) : undefined,
      };
    }
    return undefined;
  }

  private expire(id: string): void {
    const entry = this.rules.get(id);
    if (entry) this.drop(entry, 'expired');
  }

  private drop(entry: ActiveRule, reason: 'removed' | 'expired'): void {
    if (entry.timer) clearTimeout(entry.timer);
    this.rules.delete(entry.rule.id);
    this.emit({ type: 'removed', rule: entry.rule, reason });
  }

  private emit(event: FaultEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/** A uniform draw in [0, 1) from the rule's own stream. */
function draw(entry: ActiveRule): number {
  if (entry.rule.fraction >= 1) return 0;
  return prand.unsafeUniformIntDistribution(0, 0xffffff, entry.rng) / 0x1000000;
}

function targets(rule: FaultRule, target: DeviceTarget, deviceId: string): boolean {
  if (target.deviceId !== undefined) return deviceId === target.deviceId;
  if (target.prefix !== undefined && !deviceId.startsWith(target.prefix)) return false;
  if (target.fraction !== undefined) {
    // The same seed picks the same devices, whenever and wherever they connect.
    const hash = createHash('sha256').update(`${rule.seed}:${deviceId}`).digest().readUInt32BE(0);
    return hash / 0x100000000 < target.fraction;
  }
  return true;
}
