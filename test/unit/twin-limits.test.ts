import { describe, expect, it } from 'vitest';
import { HubError } from '../../emulator/errors.js';
import { TWIN_TAGS_MAX_BYTES } from '../../emulator/limits.js';
import { checkSectionSize, sectionSize } from '../../emulator/twin/twin-limits.js';

const sizeError = (value: Record<string, unknown>): string | undefined => {
  try {
    checkSectionSize('tags', value as never);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    return (error as HubError).message;
  }
};

// checkSectionSize decides most sections from a bound of UTF-16 lengths; these sit where the
// bound is over the limit and only the exact measure (UTF-8 bytes, control characters left out) tells.
describe('checkSectionSize', () => {
  it('accepts a section whose UTF-16 bound is over the limit but whose bytes are not', () => {
    // 'é' is 2 UTF-8 bytes: bound 3 a character, 6,000 bytes in all.
    const value = { k: 'é'.repeat(3000) };
    expect(sectionSize(value)).toBe(1 + 6000);
    expect(sizeError(value)).toBeUndefined();
  });

  it('leaves control characters out of the measure', () => {
    const value = { k: `${'a'.repeat(TWIN_TAGS_MAX_BYTES - 1)}${'\u0001'.repeat(100)}` };
    expect(sectionSize(value)).toBe(TWIN_TAGS_MAX_BYTES);
    expect(sizeError(value)).toBeUndefined();
  });

  it('refuses a section over the limit with its exact size', () => {
    const value = { k: '€'.repeat(3000), n: 1, b: true, list: ['x', 2] };
    const size = 1 + 9000 + 1 + 8 + 1 + 4 + 4 + 1 + 8;
    expect(sectionSize(value)).toBe(size);
    expect(sizeError(value)).toBe(`Twin tags would be ${size} bytes, over the limit of ${TWIN_TAGS_MAX_BYTES} bytes.`);
  });

  it('refuses a section one byte over the limit', () => {
    expect(sizeError({ k: 'a'.repeat(TWIN_TAGS_MAX_BYTES) })).toBe(
      `Twin tags would be ${TWIN_TAGS_MAX_BYTES + 1} bytes, over the limit of ${TWIN_TAGS_MAX_BYTES} bytes.`,
    );
  });
});
