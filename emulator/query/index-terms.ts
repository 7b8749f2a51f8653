/**
 * What an index could answer of a WHERE clause (docs/scaling.md §3.2): the terms that compare a
 * property path with constants — `=`, `IN`, `<`, `<=`, `>`, `>=`, `STARTSWITH(path, '…')`, a bare
 * boolean path — combined by AND and OR. Everything else (NOT, `!=`, NIN, arithmetic, other
 * functions, path against path) says nothing: dropped from an AND, it makes an OR unanswerable.
 *
 * A term is a SUPERSET of the rows its conjunct matches, never more precise than the compiled
 * test: the caller reads candidates from an index and still applies `matches` to each one. The
 * terms follow the semantics the compiled closures have (semantics.ts): a comparison with a
 * constant holds only for a value of the constant's type, `= null` only for null, and objects or
 * arrays never equal or order against anything.
 */
import type { ComparisonOp, Expr, QuerySource, Value } from './ast.js';
import { rowPath } from './paths.js';
import { compare } from './semantics.js';

export type Primitive = string | number | boolean | null;

/** A bound of a range; ranges are over one type (numbers or strings), as comparisons are. */
export interface Bound {
  readonly value: string | number;
  readonly inclusive: boolean;
}

export type IndexTerm =
  /** the path holds one of `values` (empty: nothing matches) */
  | { readonly kind: 'values'; readonly path: readonly string[]; readonly values: readonly Primitive[] }
  /** the path holds a value of the bounds' type between them */
  | { readonly kind: 'range'; readonly path: readonly string[]; readonly lower?: Bound; readonly upper?: Bound }
  /** the path holds a string starting with `prefix` */
  | { readonly kind: 'prefix'; readonly path: readonly string[]; readonly prefix: string }
  | { readonly kind: 'and' | 'or'; readonly terms: readonly IndexTerm[] };

/** Paths are matched case-insensitively (docs/protocol.md §4.4), so terms carry them lower-cased. */
function pathOf(e: Expr, source: QuerySource): readonly string[] | undefined {
  if (e.kind !== 'path') return undefined;
  const segments = rowPath(e.segments, source);
  return segments.length === 0 ? undefined : segments.map((s) => s.toLowerCase());
}

/** A constant the parser leaves as a literal (or a negated number literal); undefined when it is anything else. */
function constantOf(e: Expr): { value: Value } | undefined {
  if (e.kind === 'literal') return { value: e.value };
  if (e.kind === 'negate' && e.operand.kind === 'literal' && typeof e.operand.value === 'number') return { value: -e.operand.value };
  return undefined;
}

const MIRROR: Readonly<Record<ComparisonOp, ComparisonOp>> = { '=': '=', '!=': '!=', '<': '>', '>': '<', '<=': '>=', '>=': '<=' };

function comparison(path: readonly string[], op: ComparisonOp, c: Value): IndexTerm | undefined {
  if (op === '!=') return undefined;
  if (typeof c === 'string' || typeof c === 'number') {
    switch (op) {
      case '=':
        return { kind: 'values', path, values: [c] };
      case '<':
      case '<=':
        return { kind: 'range', path, upper: { value: c, inclusive: op === '<=' } };
      case '>':
      case '>=':
        return { kind: 'range', path, lower: { value: c, inclusive: op === '>=' } };
    }
  }
  // Booleans and null have so few values that a range over them is a list of them.
  if (typeof c === 'boolean' || c === null) {
    const candidates: Primitive[] = c === null ? [null] : [false, true];
    return { kind: 'values', path, values: candidates.filter((v) => compare(op, v, c) === true) };
  }
  // Objects and arrays never compare with anything.
  return { kind: 'values', path, values: [] };
}

function termOf(e: Expr, source: QuerySource): IndexTerm | undefined {
  switch (e.kind) {
    case 'and':
    case 'or': {
      const terms: IndexTerm[] = [];
      for (const operand of e.operands) {
        const t = termOf(operand, source);
        if (t === undefined) {
          if (e.kind === 'or') return undefined;
          continue;
        }
        terms.push(t);
      }
      if (terms.length === 0) return undefined;
      if (terms.length === 1) return terms[0];
      return e.kind === 'and' ? { kind: 'and', terms: mergeRanges(terms) } : { kind: 'or', terms };
    }
    case 'compare': {
      let path = pathOf(e.left, source);
      let c = constantOf(e.right);
      let op = e.op;
      if (path === undefined || c === undefined) {
        path = pathOf(e.right, source);
        c = constantOf(e.left);
        op = MIRROR[e.op];
      }
      if (path === undefined || c === undefined) return undefined;
      return comparison(path, op, c.value);
    }
    case 'in': {
      if (e.negated) return undefined;
      const path = pathOf(e.operand, source);
      if (path === undefined) return undefined;
      const values: Primitive[] = [];
      for (const item of e.list.items) {
        const c = constantOf(item);
        if (c === undefined) return undefined;
        const v = c.value;
        if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') values.push(v);
      }
      return { kind: 'values', path, values };
    }
    case 'call': {
      if (e.name !== 'STARTSWITH') return undefined;
      const path = pathOf(e.args[0]!, source);
      const c = constantOf(e.args[1]!);
      if (path === undefined || c === undefined) return undefined;
      return typeof c.value === 'string' ? { kind: 'prefix', path, prefix: c.value } : { kind: 'values', path, values: [] };
    }
    case 'path': {
      // A bare path is true only when it holds true.
      const path = pathOf(e, source);
      return path === undefined ? undefined : { kind: 'values', path, values: [true] };
    }
    default:
      return undefined;
  }
}

/** `x > 5 AND x < 10`: one range with both bounds rather than two wide ones to intersect. */
function mergeRanges(terms: IndexTerm[]): IndexTerm[] {
  const out: IndexTerm[] = [];
  const ranges = new Map<string, number>();
  for (const t of terms) {
    if (t.kind !== 'range') {
      out.push(t);
      continue;
    }
    const type = typeof (t.lower ?? t.upper)!.value;
    const key = `${type} ${JSON.stringify(t.path)}`;
    const at = ranges.get(key);
    if (at === undefined) {
      ranges.set(key, out.length);
      out.push(t);
      continue;
    }
    const prior = out[at] as Extract<IndexTerm, { kind: 'range' }>;
    out[at] = { kind: 'range', path: t.path, lower: tighter(prior.lower, t.lower, 1), upper: tighter(prior.upper, t.upper, -1) } as IndexTerm;
  }
  return out;
}

/** The stricter of two bounds of one type: the larger lower bound (sign 1) or the smaller upper one (-1). */
function tighter(a: Bound | undefined, b: Bound | undefined, sign: 1 | -1): Bound | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.value === b.value) return a.inclusive ? b : a;
  return (a.value > b.value ? 1 : -1) === sign ? a : b;
}

/**
 * Whether indexTerms(where) says exactly what the WHERE does, not a superset of it: every operand
 * of every AND and OR became a term (nothing was dropped to be left to the compiled test). Each
 * term alone has the compiled test's meaning (semantics.ts, functions.ts): a comparison holds only
 * between values of the constant's type, STARTSWITH only for strings, IN for primitives in the
 * list, a bare path only for true. So where every index read is exact (one primitive per key,
 * PathIndex.exact), the keys the terms allow are the query's answer without evaluating a twin.
 */
export function indexTermsExact(where: Expr | undefined, source: QuerySource): boolean {
  if (where === undefined || source === 'devices.jobs') return false;
  const covered = (e: Expr): boolean => (e.kind === 'and' || e.kind === 'or' ? e.operands.every(covered) : termOf(e, source) !== undefined);
  return covered(where);
}

export function indexTerms(where: Expr | undefined, source: QuerySource): IndexTerm | undefined {
  if (where === undefined || source === 'devices.jobs') return undefined;
  return termOf(where, source);
}
