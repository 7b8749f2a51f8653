/**
 * Statement → executable plan: the rules that need the whole statement (what the FROM
 * collection allows, how the select list and GROUP BY fit together, output names), then one
 * runner per query shape so that each shape's loop stays minimal.
 *
 * Output names (the docs show only aliased and plain root examples; the rest follows Cosmos DB,
 * whose SQL dialect the hub's language is, and which the hub's result shapes match):
 * - `AS alias` names the property exactly as written;
 * - a path is named by its LAST segment in the row's own spelling:
 *   `SELECT DeviceId` → `deviceId`, `SELECT properties.reported.temperature` → `temperature`
 *   (no nesting is rebuilt);
 * - an aggregate without alias is named `$1`, `$2`, … counting unaliased aggregates from the
 *   left (`SELECT COUNT() FROM devices` → `[{"$1": 12}]`);
 * - two items with the same name (case-insensitively) are rejected, telling the user to add AS,
 *   rather than silently dropping one of them.
 * Properties appear in select-list order; a missing value leaves its property out.
 */
import { accumulatorFactory, Grouper, type AccumulatorFactory } from './aggregate.js';
import type { AggregateItem, PathExpr, QuerySource, SelectItem, SelectStatement } from './ast.js';
import { Compiler, type Test } from './compile.js';
import { QueryError, quoteNear } from './errors.js';
import { deviceIdHint } from './hints.js';
import { indexTerms, indexTermsExact, type IndexTerm } from './index-terms.js';
import { pathProjector, rowPath } from './paths.js';

export type QueryItemType = 'Twin' | 'DeviceJob' | 'Raw';

export interface Plan {
  readonly source: QuerySource;
  readonly top: number | undefined;
  readonly itemType: QueryItemType;
  readonly matches: Test;
  readonly deviceIds: readonly string[] | undefined;
  /** What an index could answer of the WHERE (index-terms.ts); undefined: nothing. */
  readonly terms: IndexTerm | undefined;
  /** Whether `terms` say exactly what the WHERE does (index-terms.ts indexTermsExact), not a superset. */
  readonly termsExact: boolean;
  /** Whether there is no WHERE: every row matches. */
  readonly everyRow: boolean;
  /** Present when the answer needs only how many rows have each value of a path (see CountPlan). */
  readonly counts?: CountPlan;
  run(rows: Iterable<object>): unknown[];
}

/**
 * `SELECT [path,] COUNT() [AS n]… FROM … [GROUP BY path]` without WHERE: the result follows from the
 * number of rows per value of the grouped path, which an index holds without reading a twin.
 */
export interface CountPlan {
  /** The grouped path as the row sees it (undefined: no GROUP BY, one group of every row). */
  readonly groupBy: readonly string[] | undefined;
  /**
   * The result items from the groups in order of first appearance: `first` is the group's first
   * row in that order (where the grouped value's spelling comes from), `count` its size.
   */
  items(groups: readonly { readonly first: unknown; readonly count: number }[]): unknown[];
}

type Rec = Record<string, unknown>;

function invalid(text: string, pos: number, message: string): QueryError {
  const word = /^[^\s,()]+/.exec(text.slice(pos))?.[0] ?? text.slice(pos, pos + 1);
  const near = word.length > 0 ? ` near ${quoteNear(word)}` : '';
  return new QueryError('Invalid query', pos, `${near}: ${message}`);
}

function samePath(a: PathExpr, b: PathExpr, source: QuerySource): boolean {
  const sa = rowPath(a.segments, source);
  const sb = rowPath(b.segments, source);
  return sa.length === sb.length && sa.every((s, i) => s.toLowerCase() === sb[i]!.toLowerCase());
}

function outputNames(items: readonly SelectItem[], source: QuerySource, text: string): string[] {
  let unnamed = 0;
  const seen = new Set<string>();
  return items.map((item) => {
    let name: string;
    if (item.alias !== undefined) name = item.alias;
    else if (item.kind === 'path') name = rowPath(item.path.segments, source).at(-1)!;
    else name = `$${++unnamed}`;
    const key = name.toLowerCase();
    if (seen.has(key)) {
      throw invalid(text, item.pos, `the SELECT list produces '${name}' twice; use AS to give one of them another name`);
    }
    seen.add(key);
    return name;
  });
}

export function createPlan(stmt: SelectStatement, text: string): Plan {
  const { source, select } = stmt;
  const compiler = new Compiler(source);

  if (source === 'devices.jobs') {
    if (select !== '*') {
      throw invalid(text, stmt.selectPos, 'devices.jobs supports only SELECT * (no projections or aggregates)');
    }
    if (stmt.groupBy !== undefined) throw invalid(text, stmt.groupByPos!, 'devices.jobs does not support GROUP BY');
  }

  const matches: Test = stmt.where === undefined ? () => true : compiler.test(stmt.where);
  const top = stmt.top;
  const limit = top ?? Number.POSITIVE_INFINITY;
  const base = {
    source,
    top,
    matches,
    deviceIds: deviceIdHint(stmt.where, source),
    terms: indexTerms(stmt.where, source),
    termsExact: indexTermsExact(stmt.where, source),
    everyRow: stmt.where === undefined,
  };

  if (select === '*') {
    if (stmt.groupBy !== undefined) {
      throw invalid(text, stmt.selectPos, 'SELECT * cannot be used with GROUP BY; select the grouped property and aggregates');
    }
    return {
      ...base,
      itemType: source === 'devices.jobs' ? 'DeviceJob' : 'Twin',
      run: (rows) => {
        const out: unknown[] = [];
        if (limit === 0) return out;
        for (const row of rows) {
          if (matches(row)) {
            out.push(row);
            if (out.length >= limit) break;
          }
        }
        return out;
      },
    };
  }

  const names = outputNames(select, source, text);
  const aggregates = select.filter((i): i is AggregateItem => i.kind === 'aggregate');
  const groupBy = stmt.groupBy;

  for (const item of select) {
    if (item.kind !== 'path') continue;
    if (groupBy !== undefined && !samePath(item.path, groupBy, source)) {
      throw invalid(text, item.pos, `only the GROUP BY property (${groupBy.segments.join('.')}) and aggregates can be selected in a GROUP BY query`);
    }
    if (groupBy === undefined && aggregates.length > 0) {
      throw invalid(text, item.pos, 'a property cannot be selected together with aggregates unless the query groups by it (GROUP BY)');
    }
  }

  const projectors = select.map((item, i) =>
    item.kind === 'path' ? pathProjector(rowPath(item.path.segments, source), item.alias === undefined ? undefined : names[i]) : undefined,
  );

  if (aggregates.length === 0 && groupBy === undefined) {
    const ps = projectors.filter((p) => p !== undefined);
    return {
      ...base,
      itemType: 'Raw',
      run: (rows) => {
        const out: unknown[] = [];
        if (limit === 0) return out;
        for (const row of rows) {
          if (!matches(row)) continue;
          const item: Rec = {};
          for (const p of ps) p(row, item);
          out.push(item);
          if (out.length >= limit) break;
        }
        return out;
      },
    };
  }

  const factories: AccumulatorFactory[] = aggregates.map((a) => accumulatorFactory(a.fn, a.arg === undefined ? undefined : compiler.value(a.arg)));
  /** For each select item: its accumulator's index, or -1 for the grouped property. */
  const slots: number[] = [];
  let next = 0;
  for (const item of select) slots.push(item.kind === 'aggregate' ? next++ : -1);

  const itemOf = (first: unknown, results: readonly unknown[]): Rec => {
    const item: Rec = {};
    for (let i = 0; i < select.length; i++) {
      const slot = slots[i]!;
      if (slot < 0) {
        projectors[i]!(first, item);
      } else {
        const v = results[slot];
        if (v !== undefined) item[names[i]!] = v;
      }
    }
    return item;
  };

  // Only COUNT() (no argument) and the grouped path selected, no WHERE: counts per value suffice.
  const counts: CountPlan | undefined =
    stmt.where === undefined && aggregates.every((a) => a.fn === 'COUNT' && a.arg === undefined)
      ? {
          groupBy: groupBy === undefined ? undefined : rowPath(groupBy.segments, source),
          items: (groups) => {
            const out: unknown[] = [];
            for (const g of groups) {
              if (out.length >= limit) break;
              out.push(
                itemOf(
                  g.first,
                  aggregates.map(() => g.count),
                ),
              );
            }
            return out;
          },
        }
      : undefined;

  if (groupBy === undefined) {
    return {
      ...base,
      ...(counts && { counts }),
      itemType: 'Raw',
      run: (rows) => {
        const accumulators = factories.map((f) => f());
        for (const row of rows) {
          if (!matches(row)) continue;
          for (const a of accumulators) a.add(row);
        }
        // Aggregating over nothing still yields one item (COUNT() = 0), as in SQL.
        return [
          itemOf(
            undefined,
            accumulators.map((a) => a.result()),
          ),
        ].slice(0, limit);
      },
    };
  }

  const key = compiler.getter(groupBy);
  return {
    ...base,
    ...(counts && { counts }),
    itemType: 'Raw',
    run: (rows) => {
      const grouper = new Grouper(factories);
      for (const row of rows) {
        if (matches(row)) grouper.add(key(row), row);
      }
      const out: unknown[] = [];
      for (const g of grouper.groups) {
        if (out.length >= limit) break;
        out.push(
          itemOf(
            g.first,
            g.accumulators.map((a) => a.result()),
          ),
        );
      }
      return out;
    },
  };
}
