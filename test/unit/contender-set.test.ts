import { describe, expect, it } from 'vitest';
import type { Contender } from '../../emulator/configurations/configuration-content.js';
import { ContenderSet } from '../../emulator/configurations/contender-set.js';

const low: Contender = {
  id: 'low',
  priority: 1,
  createdTimeUtc: '2026-01-01T00:00:00Z',
  settings: [
    { path: ['a'], value: 1 },
    { path: ['b'], value: 2 },
  ],
};
const high: Contender = { id: 'high', priority: 9, createdTimeUtc: '2026-01-01T00:00:00Z', settings: [{ path: ['a', 'x'], value: 3 }] };

describe('ContenderSet', () => {
  it('interns each combination: the same indexes added in order reach the same set', () => {
    const none = ContenderSet.empty();
    const both = none.with(0, high).with(1, low);
    expect(none.with(0, high).with(1, low)).toBe(both);
    expect(none.with(1, low)).not.toBe(both);
    expect(none.isEmpty).toBe(true);
    expect(both.has(0) && both.has(1) && !both.has(2)).toBe(true);
    // the empty set, {high}, {high, low}, {low}: what the service bounds
    expect(none.trieSize).toBe(4);
    expect(ContenderSet.empty().trieSize).toBe(1);
  });

  it('resolves once per set: the higher precedence claims its path, the other is targeted there', () => {
    const both = ContenderSet.empty().with(0, high).with(1, low);
    expect(both.resolution.patch).toEqual({ a: { x: 3 }, b: 2 });
    expect(both.resolution).toBe(both.resolution);
    expect(both.applies(0, 'high')).toBe(true);
    expect(both.applies(1, 'low')).toBe(false);
    expect(both.statuses).toEqual({ high: { status: 'Applied' }, low: { status: 'Targeted' } });
    expect(both.patchText).toBe(JSON.stringify({ a: { x: 3 }, b: 2 }));
    const alone = ContenderSet.empty().with(1, low);
    expect(alone.applies(1, 'low')).toBe(true);
    expect(alone.applies(0, 'high')).toBe(false);
  });
});
