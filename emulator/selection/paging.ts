import type { Query } from '../query/index.js';

/** Where a page starts and how big it is; the REST face reads it from headers and a continuation token. */
export interface PageRequest {
  /** results already delivered by earlier pages */
  offset: number;
  size: number;
  /** identifies what is being paged, so a token cannot be replayed against another query */
  key: string;
  /** the row the previous page ended on (deviceId, or device-job rowid), to resume without re-evaluating */
  after?: string | number;
}

export interface Page<T> {
  items: T[];
  more: boolean;
  /** the row the page ended on, when the source can resume from it */
  last?: string | number;
}

/** One page of a list computed in full (aggregates, the job list). */
export function sliceArray<T>(all: readonly T[], page: PageRequest): Page<T> {
  const end = page.offset + page.size;
  return { items: all.slice(page.offset, end), more: end < all.length };
}

/**
 * One SELECT * page without materialising every match: pass over the rows up to `resumeAfter`
 * (by key, unevaluated), skip `skip` matches, take `page.size`, and look one match further to
 * know whether another page exists; TOP bounds the whole result across pages. Rows are rendered
 * by `view` inside the loop: no generator sits between the registry and the predicate, which
 * over 100,000 twins is a measurable share of a query.
 */
export function scanPage<T>(
  query: Query,
  source: Iterable<T>,
  view: (item: T) => object,
  key: ((item: T) => string | number) | undefined,
  resumeAfter: string | number | undefined,
  skip: number,
  page: PageRequest,
): Page<object> {
  const allowed = (query.top ?? Number.POSITIVE_INFINITY) - page.offset;
  const items: object[] = [];
  let last: string | number | undefined;
  let passing = resumeAfter !== undefined;
  let toSkip = skip;
  for (const item of source) {
    if (passing) {
      if (key!(item) === resumeAfter) passing = false;
      continue;
    }
    const row = view(item);
    if (!query.matches(row)) continue;
    if (toSkip > 0) {
      toSkip--;
      continue;
    }
    if (items.length >= allowed) break;
    if (items.length === page.size) return { items, more: true, last };
    items.push(row);
    if (key) last = key(item);
  }
  return { items, more: false };
}
