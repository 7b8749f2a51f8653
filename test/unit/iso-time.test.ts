import { describe, expect, it } from 'vitest';
import { isoTime } from '../../emulator/time.js';

// isoTime keeps each second's text and writes the milliseconds onto it; it must say exactly what
// the Date formula says, for any order of calls.
const reference = (ms: number): string => new Date(ms).toISOString().replace('Z', '0000Z');

describe('isoTime', () => {
  it('says what toISOString says, with seven fractional digits, across seconds, days and years', () => {
    const starts = [0, 1, 999, 1000, 1_764_662_399_990, Date.UTC(2024, 1, 29, 23, 59, 59, 995), Date.UTC(2099, 11, 31, 23, 59, 59, 990), 253_402_300_799_990];
    for (const start of starts) {
      for (let ms = start; ms < start + 25; ms++) expect(isoTime(ms)).toBe(reference(ms));
    }
    // back and forth: a cached second never leaks into another one
    for (const ms of [5_000_123, 1_000, 5_000_999, 5_001_000, 4_999_999, 5_000_000, 5_000_000]) expect(isoTime(ms)).toBe(reference(ms));
    expect(isoTime(1_764_662_400_123)).toBe('2025-12-02T08:00:00.1230000Z');
  });

  it('leaves what is not a whole millisecond since 1970 of a four-digit year to Date', () => {
    for (const ms of [-1, -86_400_001, 1_500.5, 253_402_300_800_000, 253_402_300_800_001]) expect(isoTime(ms)).toBe(reference(ms));
    expect(isoTime()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}0000Z$/);
  });
});
