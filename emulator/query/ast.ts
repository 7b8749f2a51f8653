/**
 * The parsed statement. Every node keeps its source position so that checks done after
 * parsing (devices.jobs restrictions, GROUP BY consistency) can still point at the culprit.
 */

export type QuerySource = 'devices' | 'devices.modules' | 'devices.jobs';

/** A JSON value as the language sees it; `undefined` is a value of its own (a missing property). */
export type Value = string | number | boolean | null | undefined | readonly Value[] | { readonly [key: string]: unknown };

export type ComparisonOp = '=' | '!=' | '<' | '>' | '<=' | '>=';
export type ArithmeticOp = '+' | '-' | '*' | '/' | '%';

export interface PathExpr {
  readonly kind: 'path';
  /** As written (escapes removed); matched against property names case-insensitively. */
  readonly segments: readonly string[];
  readonly pos: number;
  readonly end: number;
}

export interface LiteralExpr {
  readonly kind: 'literal';
  readonly value: Value;
  readonly pos: number;
}

export interface ArrayExpr {
  readonly kind: 'array';
  readonly items: readonly Expr[];
  readonly pos: number;
}

export interface CallExpr {
  readonly kind: 'call';
  /** Upper-cased. */
  readonly name: string;
  readonly args: readonly Expr[];
  readonly pos: number;
}

export interface NotExpr {
  readonly kind: 'not';
  readonly operand: Expr;
  readonly pos: number;
}

export interface NegateExpr {
  readonly kind: 'negate';
  readonly operand: Expr;
  readonly pos: number;
}

export interface LogicalExpr {
  readonly kind: 'and' | 'or';
  /** Chains are kept flat (a AND b AND c) so neither compile nor evaluation recurses per link. */
  readonly operands: readonly Expr[];
  readonly pos: number;
}

export interface CompareExpr {
  readonly kind: 'compare';
  readonly op: ComparisonOp;
  readonly left: Expr;
  readonly right: Expr;
  readonly pos: number;
}

export interface ArithmeticExpr {
  readonly kind: 'arithmetic';
  readonly op: ArithmeticOp;
  readonly left: Expr;
  readonly right: Expr;
  readonly pos: number;
}

export interface InExpr {
  readonly kind: 'in';
  /** NIN */
  readonly negated: boolean;
  readonly operand: Expr;
  readonly list: ArrayExpr;
  readonly pos: number;
}

export type Expr = PathExpr | LiteralExpr | ArrayExpr | CallExpr | NotExpr | NegateExpr | LogicalExpr | CompareExpr | ArithmeticExpr | InExpr;

export type AggregateFn = 'COUNT' | 'SUM' | 'AVG' | 'MIN' | 'MAX';

export interface PathItem {
  readonly kind: 'path';
  readonly path: PathExpr;
  readonly alias?: string;
  readonly pos: number;
}

export interface AggregateItem {
  readonly kind: 'aggregate';
  readonly fn: AggregateFn;
  /** Absent for COUNT(). */
  readonly arg?: Expr;
  readonly alias?: string;
  readonly pos: number;
}

export type SelectItem = PathItem | AggregateItem;

export interface SelectStatement {
  readonly top?: number;
  /** `'*'` or the projection list. */
  readonly select: '*' | readonly SelectItem[];
  /** Where the select list starts, for errors about it as a whole. */
  readonly selectPos: number;
  readonly source: QuerySource;
  readonly sourcePos: number;
  readonly where?: Expr;
  readonly groupBy?: PathExpr;
  readonly groupByPos?: number;
}
