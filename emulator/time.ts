let lastMs = Number.NaN;
let lastText = '';

/** ISO-8601 UTC with the seven fractional digits the real hub writes (2021-05-07T00:50:38.0543092Z). */
export function isoTime(ms: number = Date.now()): string {
  // Thousands of devices connecting or reporting within one millisecond share the same text.
  if (ms !== lastMs) {
    lastText = new Date(ms).toISOString().replace('Z', '0000Z');
    lastMs = ms;
  }
  return lastText;
}
