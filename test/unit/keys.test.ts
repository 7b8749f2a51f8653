import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decimal56, generateGenerationId } from '../../emulator/identity/keys.js';

describe('generation ids', () => {
  it('render a 56-bit value in decimal exactly as String(BigInt) does', () => {
    const cases: [number, number][] = [
      [0, 0],
      [0, 1],
      [0, 99_999_999],
      [0, 100_000_000],
      [0, 0xffff_ffff],
      [1, 0],
      [0xff_ffff, 0xffff_ffff],
      [0x80_0000, 0],
    ];
    for (let i = 0; i < 10_000; i++) cases.push([randomInt(0x100_0000), randomInt(0x1_0000_0000)]);
    for (const [high, low] of cases) expect(decimal56(high, low)).toBe(String((BigInt(high) << 32n) + BigInt(low)));
  });

  it('are decimal numbers below 2^56', () => {
    for (let i = 0; i < 1000; i++) {
      const id = generateGenerationId();
      expect(id).toMatch(/^(0|[1-9]\d*)$/);
      expect(BigInt(id) < 1n << 56n).toBe(true);
    }
  });
});
