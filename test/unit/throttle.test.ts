import { describe, expect, it } from 'vitest';
import { HubThrottle } from '../../emulator/throttle/hub-throttle.js';
import { RateGate } from '../../emulator/throttle/rate-gate.js';
import { parseTier, tierProfile } from '../../emulator/throttle/tiers.js';

describe('RateGate', () => {
  it('lets a burst through at once, shapes what follows at the rate, then refuses', () => {
    const gate = new RateGate(10, 3, 250); // 100 ms per operation, 3 at once, 250 ms of queue
    const t = 1_000_000;
    expect([gate.admit(t), gate.admit(t), gate.admit(t)]).toEqual([0, 0, 0]);
    expect(gate.admit(t)).toBeCloseTo(100);
    expect(gate.admit(t)).toBeCloseTo(200);
    expect(gate.admit(t)).toBe(-1); // would wait 300 ms > 250
    expect(gate.admit(t)).toBe(-1); // a refusal charges nothing
    expect(gate.admit(t + 1000)).toBe(0); // drained
  });

  it('paces at exactly the rate with a burst of one', () => {
    const gate = new RateGate(10, 1, Number.POSITIVE_INFINITY);
    const waits = Array.from({ length: 30 }, () => gate.admit(0));
    expect(waits[0]).toBe(0);
    expect(waits[29]).toBeCloseTo(2900);
  });

  it('charges costs above one as that many operations', () => {
    const gate = new RateGate(40, 1, 10_000);
    expect(gate.admit(0, 4)).toBe(0);
    expect(gate.admit(0)).toBeCloseTo(100);
  });
});

describe('tiers', () => {
  it('has the quotas page figures for S1 with one unit', () => {
    const s1 = tierProfile('S1', 1);
    expect(s1.rates.twinUpdate).toBe(50);
    expect(s1.rates.twinRead).toBe(100);
    expect(s1.rates.connect).toBe(100);
    expect(s1.rates.jobDevice).toBe(10);
    expect(s1.rates.methods).toBe(40);
    expect(s1.rates.registry).toBeCloseTo(100 / 60);
    expect(s1.maxActiveJobs).toBe(1);
    expect(s1.dailyMessages).toBe(400_000);
  });

  it('scales per unit where the page says so', () => {
    expect(tierProfile('S1', 10).rates.connect).toBe(120);
    expect(tierProfile('S2', 20).rates.twinUpdate).toBe(100);
    expect(tierProfile('S3', 10).rates.twinUpdate).toBe(2500);
    expect(tierProfile('B2', 2).rates.d2c).toBe(240);
    expect(tierProfile('F1', 1).dailyMessages).toBe(8000);
    expect(tierProfile('F1', 1).meterBytes).toBe(512);
  });

  it('refuses unit counts the tier does not sell and unknown tiers', () => {
    expect(() => tierProfile('F1', 2)).toThrow(/1 to 1/);
    expect(() => tierProfile('S3', 11)).toThrow(/1 to 10/);
    expect(() => tierProfile('S1', 0)).toThrow(RangeError);
    expect(parseTier('s2')).toBe('S2');
    expect(() => parseTier('S4')).toThrow(/F1, S1/);
  });
});

describe('HubThrottle', () => {
  it('answers the excess of a burst of twin updates with ThrottlingException', () => {
    const throttle = new HubThrottle({ tier: 'S1', units: 1, backlogMs: 1000 }, () => Date.now());
    const kinds = Array.from({ length: 200 }, () => throttle.admit('twinUpdate').kind);
    expect(kinds.filter((k) => k === 'now')).toHaveLength(50);
    expect(kinds.filter((k) => k === 'later').length).toBeGreaterThanOrEqual(49);
    const refused = throttle.admit('twinUpdate');
    expect(refused.kind).toBe('throttled');
    if (refused.kind === 'throttled') {
      expect(refused.error.errorName).toBe('ThrottlingException');
      expect(refused.error.status).toBe(429);
    }
  });

  it('counts the daily quota in metered messages and resets at midnight UTC of the hub clock', () => {
    let now = Date.UTC(2026, 0, 1, 23, 0);
    const throttle = new HubThrottle({ tier: 'F1', units: 1, backlogMs: 1000 }, () => now);
    for (let i = 0; i < 7999; i++) throttle.admit('twinRead');
    expect(throttle.admit('d2c', 1, 1024).kind).toBe('quota'); // 1 KB is two 0.5 KB messages
    const last = throttle.admit('d2c', 1, 100);
    expect(last.kind).not.toBe('quota');
    const over = throttle.admit('c2d', 1, 10);
    expect(over.kind).toBe('quota');
    if (over.kind === 'quota') expect(over.error.code).toBe(403002);
    now += 3_600_000;
    expect(throttle.quota.used).toBe(0);
  });

  it('reports every decision that is not "now"', () => {
    const throttle = new HubThrottle({ tier: 'S1', units: 1, backlogMs: 0 }, () => Date.now());
    const seen: string[] = [];
    throttle.onDecision((d) => seen.push(`${d.operation}:${d.outcome}`));
    for (let i = 0; i < 101; i++) throttle.admit('connect');
    expect(seen).toEqual(['connect:throttled']);
  });
});
