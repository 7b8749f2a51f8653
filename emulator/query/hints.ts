/**
 * The deviceIds a WHERE clause pins the result to, so the caller can read a handful of twins
 * through its id index instead of scanning all of them. Only a top-level conjunct can restrict
 * the whole result, and only `deviceId = '…'` / `deviceId IN [...]` are recognised; anything
 * else (OR, NIN, NOT, expressions) gives no hint. The hint only narrows: the caller still
 * applies `matches` to the rows it fetches.
 */
import type { Expr, QuerySource } from './ast.js';
import { rowPath } from './paths.js';

function isDeviceId(e: Expr, source: QuerySource): boolean {
  if (e.kind !== 'path') return false;
  const segments = rowPath(e.segments, source);
  return segments.length === 1 && segments[0]!.toLowerCase() === 'deviceid';
}

/** The ids one conjunct allows, or undefined when it says nothing about deviceId. */
function idsOf(e: Expr, source: QuerySource): string[] | undefined {
  if (e.kind === 'compare' && e.op === '=') {
    const [path, other] = isDeviceId(e.left, source) ? [e.left, e.right] : [e.right, e.left];
    if (!isDeviceId(path, source)) return undefined;
    if (other.kind !== 'literal') return undefined;
    // deviceId is always a string, so `deviceId = 5` matches nothing.
    return typeof other.value === 'string' ? [other.value] : [];
  }
  if (e.kind === 'in' && !e.negated && isDeviceId(e.operand, source)) {
    if (!e.list.items.every((i) => i.kind === 'literal')) return undefined;
    const ids: string[] = [];
    for (const item of e.list.items) {
      if (item.kind === 'literal' && typeof item.value === 'string') ids.push(item.value);
    }
    return ids;
  }
  return undefined;
}

function conjuncts(where: Expr): Expr[] {
  const out: Expr[] = [];
  const stack: Expr[] = [where];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (e.kind === 'and') for (let i = e.operands.length - 1; i >= 0; i--) stack.push(e.operands[i]!);
    else out.push(e);
  }
  return out;
}

export function deviceIdHint(where: Expr | undefined, source: QuerySource): readonly string[] | undefined {
  if (where === undefined) return undefined;
  let result: string[] | undefined;
  for (const c of conjuncts(where)) {
    const ids = idsOf(c, source);
    if (ids === undefined) continue;
    if (result === undefined) {
      result = [...new Set(ids)];
    } else {
      const allowed = new Set(ids);
      result = result.filter((id) => allowed.has(id));
    }
  }
  return result === undefined ? undefined : Object.freeze(result);
}
