/**
 * AST → closures, once per query. The closures are what runs per row, so the tree is never
 * walked again after this point, constants are folded here, and the common shapes
 * (`path = 'const'`, `path IN [...]`, `IS_DEFINED(path)`) get closures of their own.
 *
 * Two flavours per node: `value` computes the three-valued result (needed under NOT and for
 * projections), `test` answers only "is it exactly true?" — the question WHERE asks. AND/OR
 * are true exactly when all/any operand is true, so tests compose without ever materialising
 * `undefined`, which keeps the per-row path to plain boolean short-circuits.
 */
import type { ComparisonOp, Expr, PathExpr, QuerySource, Value } from './ast.js';
import { QueryError } from './errors.js';
import { FUNCTIONS } from './functions.js';
import { jobFieldGetter, pathGetter, rowPath, type Getter } from './paths.js';
import { arithmetic, compare, isPrimitive } from './semantics.js';

export type Test = (row: unknown) => boolean;

interface Compiled {
  readonly fn: Getter;
  /** Present when the node does not depend on the row. */
  readonly constant?: { readonly value: Value };
}

const MIRROR: Readonly<Record<ComparisonOp, ComparisonOp>> = {
  '=': '=',
  '!=': '!=',
  '<': '>',
  '>': '<',
  '<=': '>=',
  '>=': '<=',
};

const TRUE: Test = () => true;
const FALSE: Test = () => false;

export class Compiler {
  constructor(private readonly source: QuerySource) {}

  getter(path: PathExpr): Getter {
    const segments = rowPath(path.segments, this.source);
    return this.source === 'devices.jobs' ? jobFieldGetter(segments) : pathGetter(segments);
  }

  value(e: Expr): Getter {
    return this.compile(e).fn;
  }

  test(e: Expr): Test {
    switch (e.kind) {
      case 'and': {
        const ts = e.operands.map((o) => this.test(o)).filter((t) => t !== TRUE);
        if (ts.includes(FALSE)) return FALSE;
        return all(ts);
      }
      case 'or': {
        const ts = e.operands.map((o) => this.test(o)).filter((t) => t !== FALSE);
        if (ts.includes(TRUE)) return TRUE;
        return any(ts);
      }
      case 'compare':
        return this.compareTest(e.op, e.left, e.right);
      case 'in': {
        const v = this.compile(e.operand);
        const set = this.constantSet(e.list.items);
        const negated = e.negated;
        if (v.constant) return isPrimitive(v.constant.value) && set.has(v.constant.value) !== negated ? TRUE : FALSE;
        const get = v.fn;
        return negated
          ? (row) => {
              const x = get(row);
              return isPrimitive(x) && !set.has(x);
            }
          : (row) => set.has(get(row));
      }
      case 'call':
        if (e.name === 'IS_DEFINED' && e.args[0]!.kind === 'path') {
          const get = this.getter(e.args[0]!);
          return (row) => get(row) !== undefined;
        }
        break;
      case 'path': {
        const get = this.getter(e);
        return (row) => get(row) === true;
      }
      default:
        break;
    }
    const c = this.compile(e);
    if (c.constant) return c.constant.value === true ? TRUE : FALSE;
    const fn = c.fn;
    return (row) => fn(row) === true;
  }

  private compareTest(op: ComparisonOp, leftExpr: Expr, rightExpr: Expr): Test {
    const left = this.compile(leftExpr);
    const right = this.compile(rightExpr);
    if (left.constant && right.constant) {
      return compare(op, left.constant.value, right.constant.value) === true ? TRUE : FALSE;
    }
    // Put the constant (if any) on the right so there is one set of specialised closures.
    if (left.constant) return constantCompareTest(MIRROR[op], right.fn, left.constant.value);
    if (right.constant) return constantCompareTest(op, left.fn, right.constant.value);
    const l = left.fn;
    const r = right.fn;
    return (row) => compare(op, l(row), r(row)) === true;
  }

  private constantSet(items: readonly Expr[]): ReadonlySet<Value> {
    // Only primitives can ever equal a primitive operand; objects/arrays in the list never match.
    return new Set(this.constants(items).filter(isPrimitive));
  }

  private constants(items: readonly Expr[]): Value[] {
    return items.map((item) => {
      const c = this.compile(item);
      if (!c.constant) {
        throw new QueryError('Invalid query', item.pos, ': array elements must be constants');
      }
      return c.constant.value;
    });
  }

  private compile(e: Expr): Compiled {
    switch (e.kind) {
      case 'literal':
        return constant(e.value);
      case 'array':
        return constant(Object.freeze(this.constants(e.items)));
      case 'path':
        return { fn: this.getter(e) };
      case 'call': {
        const def = FUNCTIONS.get(e.name)!;
        const args = e.args.map((a) => this.compile(a));
        if (def.arity === 1) {
          const f = def.fn;
          const a = args[0]!;
          if (a.constant) return constant(f(a.constant.value));
          const ga = a.fn;
          return { fn: (row) => f(ga(row)) };
        }
        const f = def.fn;
        const [a, b] = args as [Compiled, Compiled];
        if (a.constant && b.constant) return constant(f(a.constant.value, b.constant.value));
        const ga = a.fn;
        const gb = b.fn;
        return { fn: (row) => f(ga(row), gb(row)) };
      }
      case 'not': {
        const o = this.compile(e.operand);
        if (o.constant) return constant(not(o.constant.value));
        const g = o.fn;
        return { fn: (row) => not(g(row)) };
      }
      case 'negate': {
        const o = this.compile(e.operand);
        if (o.constant) return constant(negate(o.constant.value));
        const g = o.fn;
        return { fn: (row) => negate(g(row)) };
      }
      case 'and':
      case 'or': {
        const ops = e.operands.map((o) => this.compile(o));
        const combine = e.kind === 'and' ? and3 : or3;
        if (ops.every((o) => o.constant)) return constant(combine(ops.map((o) => o.constant!.value)));
        const fns = ops.map((o) => o.fn);
        return { fn: e.kind === 'and' ? andValue(fns) : orValue(fns) };
      }
      case 'compare': {
        const l = this.compile(e.left);
        const r = this.compile(e.right);
        const op = e.op;
        if (l.constant && r.constant) return constant(compare(op, l.constant.value, r.constant.value));
        const gl = l.fn;
        const gr = r.fn;
        return { fn: (row) => compare(op, gl(row), gr(row)) };
      }
      case 'arithmetic': {
        const l = this.compile(e.left);
        const r = this.compile(e.right);
        const op = e.op;
        if (l.constant && r.constant) return constant(arithmetic(op, l.constant.value, r.constant.value));
        const gl = l.fn;
        const gr = r.fn;
        return { fn: (row) => arithmetic(op, gl(row), gr(row)) };
      }
      case 'in': {
        const o = this.compile(e.operand);
        const set = this.constantSet(e.list.items);
        const negated = e.negated;
        const evaluate = (x: Value): boolean | undefined => (isPrimitive(x) ? set.has(x) !== negated : undefined);
        if (o.constant) return constant(evaluate(o.constant.value));
        const g = o.fn;
        return { fn: (row) => evaluate(g(row)) };
      }
    }
  }
}

function constant(value: Value): Compiled {
  return { fn: () => value, constant: { value } };
}

function not(v: Value): Value {
  return typeof v === 'boolean' ? !v : undefined;
}

function negate(v: Value): Value {
  return typeof v === 'number' ? -v : undefined;
}

/** false wins over undefined, undefined over true; non-booleans count as undefined. */
function and3(values: readonly Value[]): boolean | undefined {
  let result: boolean | undefined = true;
  for (const v of values) {
    if (v === false) return false;
    if (v !== true) result = undefined;
  }
  return result;
}

/** true wins over undefined, undefined over false; non-booleans count as undefined. */
function or3(values: readonly Value[]): boolean | undefined {
  let result: boolean | undefined = false;
  for (const v of values) {
    if (v === true) return true;
    if (v !== false) result = undefined;
  }
  return result;
}

function andValue(fns: readonly Getter[]): Getter {
  return (row) => {
    let result: boolean | undefined = true;
    for (const f of fns) {
      const v = f(row);
      if (v === false) return false;
      if (v !== true) result = undefined;
    }
    return result;
  };
}

function orValue(fns: readonly Getter[]): Getter {
  return (row) => {
    let result: boolean | undefined = false;
    for (const f of fns) {
      const v = f(row);
      if (v === true) return true;
      if (v !== false) result = undefined;
    }
    return result;
  };
}

function all(ts: readonly Test[]): Test {
  switch (ts.length) {
    case 0:
      return TRUE;
    case 1:
      return ts[0]!;
    case 2: {
      const [a, b] = ts as [Test, Test];
      return (row) => a(row) && b(row);
    }
    case 3: {
      const [a, b, c] = ts as [Test, Test, Test];
      return (row) => a(row) && b(row) && c(row);
    }
    default:
      return (row) => {
        for (const t of ts) if (!t(row)) return false;
        return true;
      };
  }
}

function any(ts: readonly Test[]): Test {
  switch (ts.length) {
    case 0:
      return FALSE;
    case 1:
      return ts[0]!;
    case 2: {
      const [a, b] = ts as [Test, Test];
      return (row) => a(row) || b(row);
    }
    default:
      return (row) => {
        for (const t of ts) if (t(row)) return true;
        return false;
      };
  }
}

/**
 * `get(row) <op> c` for a constant c. Since only same-typed primitives compare, "is it true?"
 * reduces to a typeof check and one JS comparison.
 */
function constantCompareTest(op: ComparisonOp, get: Getter, c: Value): Test {
  if (c === null) {
    // null compares only with null, and null is neither < nor > null.
    if (op === '=' || op === '<=' || op === '>=') return (row) => get(row) === null;
    return FALSE;
  }
  const type = typeof c;
  if (type !== 'string' && type !== 'number' && type !== 'boolean') return FALSE;
  switch (op) {
    case '=':
      return (row) => get(row) === c;
    case '!=':
      return (row) => {
        const v = get(row);
        return typeof v === type && v !== c;
      };
    case '<':
      return (row) => {
        const v = get(row);
        return typeof v === type && (v as string) < (c as string);
      };
    case '>':
      return (row) => {
        const v = get(row);
        return typeof v === type && (v as string) > (c as string);
      };
    case '<=':
      return (row) => {
        const v = get(row);
        return typeof v === type && (v as string) <= (c as string);
      };
    case '>=':
      return (row) => {
        const v = get(row);
        return typeof v === type && (v as string) >= (c as string);
      };
  }
}
