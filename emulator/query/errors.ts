/**
 * The only error this module throws. The query service turns it into the hub's 400
 * ("The query is invalid…"); the message and position are for the user who wrote the query.
 *
 * Every message has the shape `<summary> at position <n><detail>` so that a job
 * queryCondition, parsed inside a synthesised `SELECT * FROM devices WHERE …`, can be
 * re-reported against the user's own text by rebuilding the message with a shifted position
 * instead of patching strings.
 */
export class QueryError extends Error {
  /** 0-based character offset into the text the caller passed in. */
  readonly position: number;
  /** e.g. "Syntax error", "Unknown function 'CONTAINS'". */
  readonly summary: string;
  /** Everything after the position, e.g. " near 'WHER': expected WHERE, GROUP BY or end of query". */
  readonly detail: string;

  constructor(summary: string, position: number, detail: string) {
    super(`${summary} at position ${position}${detail}`);
    this.name = 'QueryError';
    this.summary = summary;
    this.position = position;
    this.detail = detail;
  }

  /** The same error reported against a text that starts `offset` characters later. */
  shifted(offset: number): QueryError {
    return new QueryError(this.summary, Math.max(0, this.position - offset), this.detail);
  }
}

/** How a piece of source text is quoted in messages: short enough to read, never multi-line. */
export function quoteNear(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > 24 ? `'${oneLine.slice(0, 24)}…'` : `'${oneLine}'`;
}

export function syntaxError(position: number, near: string | undefined, expected: string): QueryError {
  const where = near === undefined ? ' (end of query)' : ` near ${quoteNear(near)}`;
  return new QueryError('Syntax error', position, `${where}: ${expected}`);
}

/** "A", "A or B", "A, B or C" — how the expected alternatives read in a message. */
export function oneOf(alternatives: readonly string[]): string {
  if (alternatives.length <= 1) return alternatives[0] ?? '';
  return `${alternatives.slice(0, -1).join(', ')} or ${alternatives[alternatives.length - 1]}`;
}
