/**
 * Where a page of twins ended (docs/protocol.md §4.7), carried in the continuation token: the
 * registry order's epoch, the sequence number of the last twin, and its key. Within one epoch the
 * next page resumes after the sequence number, whether that twin still exists or not; from
 * another epoch (the hub restarted, or was reset) it resumes after the key if the twin still
 * exists, else it counts the results already delivered. `~` never occurs in a device or module
 * id, so a cursor is told apart from a bare key (tokens of earlier versions).
 */
export interface Cursor {
  readonly epoch: string;
  readonly seq: number;
  readonly key: string;
}

export function formatCursor(cursor: Cursor): string {
  return `~${cursor.epoch}~${cursor.seq}~${cursor.key}`;
}

export function parseCursor(text: string | number | undefined): Cursor | { readonly key: string } | undefined {
  if (typeof text !== 'string') return undefined;
  if (!text.startsWith('~')) return { key: text };
  const a = text.indexOf('~', 1);
  const b = a < 0 ? -1 : text.indexOf('~', a + 1);
  if (b < 0) return undefined;
  const seq = Number(text.slice(a + 1, b));
  if (!Number.isSafeInteger(seq) || seq < 0) return undefined;
  return { epoch: text.slice(1, a), seq, key: text.slice(b + 1) };
}
