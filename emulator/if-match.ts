import { HubError } from './errors.js';

// An entity tag's characters (RFC 9110 §8.8.3 etagc, less obs-text): visible ASCII but '"'.
const ETAG_CHARACTERS = /^[\x21\x23-\x7e]+$/;

/**
 * Reads an `If-Match` value for the twin and registry writes (docs/protocol.md §2.4,
 * §14): absent, `*` or `"*"` → undefined (unconditional); `"etag"` or a bare etag → the
 * etag. Anything else names no etag the hub could hold — blank, `""`, a weak `W/"…"` (If-Match
 * compares strongly), a list, an unbalanced quote — and is a failed precondition, 412
 * PreconditionFailed, as a mismatch is; never an unconditional write.
 */
export function ifMatchEtag(value: string | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  const quoted = trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"');
  const etag = quoted ? trimmed.slice(1, -1) : trimmed;
  if (etag === '*') return undefined;
  if (!ETAG_CHARACTERS.test(etag)) {
    throw new HubError('PreconditionFailed', `Precondition failed: If-Match ${JSON.stringify(value)} names no ${what} etag; send the quoted etag or "*".`);
  }
  return etag;
}
