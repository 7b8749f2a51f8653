let lastMs = Number.NaN;
let lastText = '';
/** the whole second `secondPrefix` is of, and its text up to the fraction ('2021-05-07T00:50:38.') */
let lastSecond = Number.NaN;
let secondPrefix = '';
/** 9999-12-31T23:59:59.999Z and below: toISOString's four-digit years, the text secondPrefix assumes */
const FOUR_DIGIT_YEARS_END = 253_402_300_800_000;

/** ISO-8601 UTC with the seven fractional digits the real hub writes (2021-05-07T00:50:38.0543092Z). */
export function isoTime(ms: number = Date.now()): string {
  // Thousands of devices connecting or reporting within one millisecond share the same text.
  if (ms === lastMs) return lastText;
  lastMs = ms;
  if (!Number.isInteger(ms) || ms < 0 || ms >= FOUR_DIGIT_YEARS_END) {
    lastText = new Date(ms).toISOString().replace('Z', '0000Z');
    return lastText;
  }
  // A twin write or a device's activity at thousands a second sees a new millisecond nearly
  // every call, and a Date's toISOString costs microseconds: the second's text is kept, the
  // milliseconds written onto it.
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    secondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    lastSecond = second;
  }
  const fraction = ms - second * 1000;
  lastText = `${secondPrefix}${fraction < 10 ? '00' : fraction < 100 ? '0' : ''}${fraction}0000Z`;
  return lastText;
}
