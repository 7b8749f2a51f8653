/**
 * The IoT Hub query language (docs/protocol.md §4): parse once into closures, run over rows the caller
 * already holds. Pure: no I/O, no knowledge of HTTP, paging or storage — the query service
 * pages the array `runQuery` returns and maps QueryError to the hub's 400.
 */
import type { QuerySource } from './ast.js';
import { QueryError } from './errors.js';
import { parseStatement } from './parser.js';
import type { IndexTerm } from './index-terms.js';
import { createPlan, type CountPlan, type Plan, type QueryItemType } from './plan.js';
import { QUERY_MAX_CHARS } from '../limits.js';

export type { QuerySource } from './ast.js';
export type { CountPlan, QueryItemType } from './plan.js';
export type { Bound, IndexTerm, Primitive } from './index-terms.js';
export { QueryError } from './errors.js';

export interface Query {
  readonly text: string;
  readonly source: QuerySource;
  readonly top?: number;
  /** Twin for SELECT * FROM devices|devices.modules, DeviceJob for SELECT * FROM devices.jobs, Raw for projections/aggregates. */
  readonly itemType: QueryItemType;
  /** Compiled WHERE (true when there is no WHERE). */
  readonly matches: (row: object) => boolean;
  /**
   * deviceIds the WHERE restricts to, when the top-level conjunction contains deviceId = '…'
   * or deviceId IN [...] (lets the caller use its id index); undefined otherwise.
   */
  readonly deviceIds?: readonly string[];
  /** What an index could answer of the WHERE (docs/scaling.md §3.2); absent: nothing, scan. */
  readonly terms?: IndexTerm;
  /**
   * Present when `terms` say exactly what the WHERE does, not a superset: keys read from exact
   * indexes (one primitive value per key) are then the answer without evaluating a twin.
   */
  readonly termsExact?: true;
  /** Present when there is no WHERE: every row matches. */
  readonly everyRow?: true;
  /** Present when counts per value of a path answer the query (COUNT() … GROUP BY without WHERE). */
  readonly counts?: CountPlan;
}

// The compiled plan stays private to this module, so Query remains a plain read-only value
// that other modules can log, compare or spread without dragging closures around in types.
const plans = new WeakMap<Query, Plan>();

function compileQuery(text: string): Query {
  let plan: Plan;
  try {
    plan = createPlan(parseStatement(text), text);
  } catch (e) {
    if (e instanceof QueryError) throw e;
    // The parser bounds nesting, so this is a backstop: the contract is "only QueryError".
    if (e instanceof RangeError) throw new QueryError('Query too complex', 0, ': it cannot be evaluated');
    throw new QueryError('Invalid query', 0, `: ${e instanceof Error ? e.message : String(e)}`);
  }
  const query: Query = Object.freeze({
    text,
    source: plan.source,
    ...(plan.top !== undefined && { top: plan.top }),
    itemType: plan.itemType,
    matches: plan.matches,
    ...(plan.deviceIds !== undefined && { deviceIds: plan.deviceIds }),
    ...(plan.terms !== undefined && { terms: plan.terms }),
    ...(plan.terms !== undefined && plan.termsExact && { termsExact: true as const }),
    ...(plan.everyRow && { everyRow: true as const }),
    ...(plan.counts !== undefined && { counts: plan.counts }),
  });
  plans.set(query, plan);
  return query;
}

function checkLength(text: unknown): asserts text is string {
  if (typeof text !== 'string') throw new QueryError('Invalid query', 0, ': the query must be a string');
  if (text.length > QUERY_MAX_CHARS) {
    throw new QueryError('Query too long', QUERY_MAX_CHARS, `: queries are limited to ${QUERY_MAX_CHARS} characters, this one has ${text.length}`);
  }
}

/** A full `SELECT … FROM … [WHERE …] [GROUP BY …]` statement. */
export function parseQuery(text: string): Query {
  checkLength(text);
  return compileQuery(text);
}

/**
 * A job's queryCondition (docs/protocol.md §4.6): `*` means every device; a condition starting with FROM
 * is read as `SELECT * <condition>` (observed: `FROM devices.modules WHERE moduleId = 'x'`);
 * anything else as `SELECT * FROM devices WHERE <condition>`. Errors point into `condition`
 * itself. The returned query's `text` is the statement actually run.
 */
export function parseJobCondition(condition: string): Query {
  checkLength(condition);
  if (condition.trim() === '*') return compileQuery('SELECT * FROM devices');
  const prefix = /^\s*from(?![\p{L}\p{N}_$])/iu.test(condition) ? 'SELECT * ' : 'SELECT * FROM devices WHERE ';
  let query: Query;
  try {
    query = compileQuery(prefix + condition);
  } catch (e) {
    throw e instanceof QueryError ? e.shifted(prefix.length) : e;
  }
  if (query.source === 'devices.jobs') {
    const pos = condition.search(/devices\s*\.\s*jobs/i);
    throw new QueryError('Invalid query', Math.max(0, pos), ': a job can only target devices or devices.modules');
  }
  return query;
}

/**
 * WHERE, projection, aggregates, GROUP BY and TOP over `rows`. Returns every result (the
 * caller pages); for SELECT * the row objects themselves, not copies.
 */
export function runQuery(query: Query, rows: Iterable<object>): unknown[] {
  // A Query rebuilt by the caller (spread, deserialised) has no plan: recompile its text.
  const plan = plans.get(query) ?? plans.get(parseQuery(query.text))!;
  return plan.run(rows);
}
