/**
 * What operators mean on JSON values (docs/protocol.md §4.2), Cosmos-DB style three-valued logic:
 * a comparison is defined only between primitives of the same type (string vs string by
 * ordinal, number vs number, bool vs bool, null vs null); anything involving `undefined`,
 * an object, an array or two different types is `undefined`, which a condition treats as
 * false — and which NOT leaves undefined, so `NOT (x = 'a')` does not match twins lacking x.
 */
import type { ArithmeticOp, ComparisonOp, Value } from './ast.js';

/** -1/0/1, or undefined when the two values are not comparable. */
export function order(a: Value, b: Value): number | undefined {
  const t = typeof a;
  if (t === 'string' || t === 'number' || t === 'boolean') {
    if (typeof b !== t) return undefined;
    // Ordinal (UTF-16 code unit) order for strings, which is what JS `<` does.
    return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  }
  if (a === null) return b === null ? 0 : undefined;
  return undefined;
}

export function compare(op: ComparisonOp, a: Value, b: Value): boolean | undefined {
  const o = order(a, b);
  if (o === undefined) return undefined;
  switch (op) {
    case '=':
      return o === 0;
    case '!=':
      return o !== 0;
    case '<':
      return o < 0;
    case '>':
      return o > 0;
    case '<=':
      return o <= 0;
    case '>=':
      return o >= 0;
  }
}

/** Numbers only; a result that is not a finite number (x/0) has no JSON form, so it is undefined. */
export function arithmetic(op: ArithmeticOp, a: Value, b: Value): number | undefined {
  if (typeof a !== 'number' || typeof b !== 'number') return undefined;
  let r: number;
  switch (op) {
    case '+':
      r = a + b;
      break;
    case '-':
      r = a - b;
      break;
    case '*':
      r = a * b;
      break;
    case '/':
      r = a / b;
      break;
    case '%':
      r = a % b;
      break;
  }
  return Number.isFinite(r) ? r : undefined;
}

export function isPrimitive(v: Value): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/**
 * A total order over primitives for MIN/MAX, as Cosmos DB orders mixed types:
 * null < false < true < numbers < strings. Non-primitives are never passed in.
 */
export function rank(v: string | number | boolean | null): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 2;
  return 3;
}

export function mixedOrder(a: string | number | boolean | null, b: string | number | boolean | null): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  return order(a, b) ?? 0;
}
