import { describe, expect, it } from 'vitest';
import { HubError } from '../../emulator/errors.js';
import { TWIN_TAGS_MAX_BYTES } from '../../emulator/limits.js';
import { checkMergedSectionSize, checkSectionSize, sectionSize } from '../../emulator/twin/twin-limits.js';
import { previewMerge } from '../../emulator/twin/twin-merge.js';

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

// A merge's size is bounded by the two sections' bounds summed; where that leaves it open the
// merge is built and measured, so the answer is always checkSectionSize's of the merged section.
describe('checkMergedSectionSize', () => {
  const mergedError = (current: Record<string, unknown>, patch: Record<string, unknown>): string | undefined => {
    try {
      checkMergedSectionSize('tags', current as never, patch as never);
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(HubError);
      return (error as HubError).message;
    }
  };
  const big = 'a'.repeat(TWIN_TAGS_MAX_BYTES - 10);

  it('answers as checkSectionSize of the merge, inside, at and over the limit', () => {
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [{ a: 1 }, { b: 'x' }],
      // Replaced, deleted, nested: the sum of the bounds is over the limit, the merge is not.
      [{ k: big }, { k: 'small' }],
      [{ k: big, o: { p: big } }, { o: null }],
      [{ o: { p: big, q: 1 } }, { o: { p: 'short' } }],
      // Over the limit only once merged, or by exact measure exactly at it.
      [{ k: big }, { j: 'b'.repeat(20) }],
      [{ o: { p: big } }, { o: { q: 'b'.repeat(20) } }],
      [{ k: 'a'.repeat(TWIN_TAGS_MAX_BYTES - 2) }, { j: '' }],
      [{ k: 'a'.repeat(TWIN_TAGS_MAX_BYTES - 2) }, { jj: '' }],
    ];
    const outcomes = cases.map(([current, patch]) => {
      const expected = sizeError(previewMerge(current as never, patch as never));
      expect(mergedError(current, patch)).toBe(expected);
      return expected === undefined;
    });
    expect(outcomes).toEqual([true, true, true, true, false, false, true, false]);
  });
});
