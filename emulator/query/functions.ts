import type { Value } from './ast.js';

/**
 * The functions twin and job queries accept (docs/protocol.md §4.3): IS_DEFINED is the only documented one,
 * STARTSWITH/ENDSWITH are observed to work on the real hub, and the IS_* type checks cost nothing.
 * Anything else is rejected by name, as the hub rejects e.g. CONTAINS and STARTS_WITH.
 *
 * Functions get their arguments already evaluated, `undefined` meaning "missing property";
 * a function given values it does not apply to answers `undefined`, like an operator.
 */
export type FunctionDef =
  // Separate shapes per arity so that evaluation never builds an argument array per row.
  { readonly arity: 1; readonly fn: (a: Value) => Value } | { readonly arity: 2; readonly fn: (a: Value, b: Value) => Value };

function typeCheck(test: (v: Value) => boolean): FunctionDef {
  return { arity: 1, fn: test };
}

function isPlainObject(v: Value): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const FUNCTIONS: ReadonlyMap<string, FunctionDef> = new Map<string, FunctionDef>([
  // "Returns true if the property has been assigned a value (including null)".
  ['IS_DEFINED', typeCheck((v) => v !== undefined)],
  ['STARTSWITH', { arity: 2, fn: (s, p) => (typeof s === 'string' && typeof p === 'string' ? s.startsWith(p) : undefined) }],
  ['ENDSWITH', { arity: 2, fn: (s, p) => (typeof s === 'string' && typeof p === 'string' ? s.endsWith(p) : undefined) }],
  ['IS_ARRAY', typeCheck((v) => Array.isArray(v))],
  ['IS_BOOL', typeCheck((v) => typeof v === 'boolean')],
  ['IS_NULL', typeCheck((v) => v === null)],
  ['IS_NUMBER', typeCheck((v) => typeof v === 'number')],
  ['IS_OBJECT', typeCheck(isPlainObject)],
  ['IS_PRIMITIVE', typeCheck((v) => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')],
  ['IS_STRING', typeCheck((v) => typeof v === 'string')],
]);

export const AGGREGATES: ReadonlySet<string> = new Set(['COUNT', 'SUM', 'AVG', 'MIN', 'MAX']);

export const FUNCTION_NAMES: string = [...FUNCTIONS.keys()].join(', ');
