/**
 * Recursive-descent parser for the IoT Hub query language (docs/protocol.md §4.1).
 *
 * Hand-written rather than generated because (1) the hub's users get an error that says what
 * was expected and where, in the hub's vocabulary ("expected WHERE, GROUP BY or end of query"),
 * which a generated parser only gives with a lot of grammar annotation; (2) the language is
 * tiny, so the whole grammar is one screen of functions, readable next to the spec; (3) no
 * dependency and no build step, and parsing an 8 KB statement costs microseconds, which matters
 * because every query request and every job start parses its text.
 *
 * The parser only builds the AST and checks what depends on syntax alone (reserved words,
 * known functions and their arity, nesting). Rules that depend on the FROM collection or on
 * the select list as a whole live in plan.ts.
 */
import type { AggregateFn, ArrayExpr, ComparisonOp, Expr, PathExpr, SelectItem, SelectStatement, QuerySource } from './ast.js';
import { QueryError, oneOf, syntaxError } from './errors.js';
import { AGGREGATES, FUNCTIONS, FUNCTION_NAMES } from './functions.js';
import { tokenize, type Token } from './lexer.js';

/**
 * Words that cannot be bare property names; `[[group]]` escapes them (docs/protocol.md §4.4). The hub
 * rejects `tags.group.x` too, so being strict here keeps queries portable to the real hub.
 */
const RESERVED = new Set(['SELECT', 'TOP', 'FROM', 'WHERE', 'GROUP', 'BY', 'AS', 'AND', 'OR', 'NOT', 'IN', 'NIN', 'TRUE', 'FALSE', 'NULL', 'UNDEFINED']);

const COMPARISON_OPS: ReadonlyMap<string, ComparisonOp> = new Map([
  ['=', '='],
  ['!=', '!='],
  ['<>', '!='],
  ['<', '<'],
  ['>', '>'],
  ['<=', '<='],
  ['>=', '>='],
]);

/** Parentheses / NOT / unary minus nesting; deeper input would only exhaust the JS stack. */
const MAX_NESTING = 128;
/** Height of any expression tree (long `1+1+1…` chains are left-deep). */
const MAX_HEIGHT = 256;

export function parseStatement(text: string): SelectStatement {
  return new Parser(tokenize(text)).statement();
}

class Parser {
  private i = 0;
  private nesting = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  // ── token helpers ────────────────────────────────────────────────────────────────────────

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.i + ahead, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private static isKeyword(t: Token, keyword: string): boolean {
    return t.kind === 'name' && (t.value as string).toUpperCase() === keyword;
  }

  private static isPunct(t: Token, p: string): boolean {
    return t.kind === 'punct' && t.value === p;
  }

  private atKeyword(keyword: string): boolean {
    return Parser.isKeyword(this.peek(), keyword);
  }

  private atPunct(p: string): boolean {
    return Parser.isPunct(this.peek(), p);
  }

  private fail(expected: string, t: Token = this.peek()): never {
    throw syntaxError(t.pos, t.kind === 'eof' ? undefined : t.text, `expected ${expected}`);
  }

  private expectKeyword(keyword: string, expected: string = keyword): Token {
    if (!this.atKeyword(keyword)) this.fail(expected);
    return this.next();
  }

  private expectPunct(p: string, expected = `'${p}'`): Token {
    if (!this.atPunct(p)) this.fail(expected);
    return this.next();
  }

  private enter(t: Token): void {
    if (++this.nesting > MAX_NESTING) {
      throw new QueryError('Query too complex', t.pos, `: expressions are nested more than ${MAX_NESTING} levels deep`);
    }
  }

  private leave(): void {
    this.nesting--;
  }

  // ── statement ────────────────────────────────────────────────────────────────────────────

  statement(): SelectStatement {
    this.expectKeyword('SELECT');
    let top: number | undefined;
    if (this.atKeyword('TOP')) {
      this.next();
      const t = this.peek();
      if (t.kind !== 'number' || !Number.isSafeInteger(t.value) || (t.value as number) < 0) {
        this.fail('a non-negative integer after TOP');
      }
      top = this.next().value as number;
    }

    const selectPos = this.peek().pos;
    let select: '*' | SelectItem[];
    if (this.atPunct('*')) {
      this.next();
      select = '*';
      if (!this.atKeyword('FROM')) this.fail('FROM');
    } else {
      select = [this.selectItem()];
      while (this.atPunct(',')) {
        this.next();
        select.push(this.selectItem());
      }
      if (!this.atKeyword('FROM')) this.fail(select[select.length - 1]!.alias === undefined ? "AS, ',' or FROM" : "',' or FROM");
    }
    this.next();
    const sourcePos = this.peek().pos;
    const source = this.source();

    let where: Expr | undefined;
    if (this.atKeyword('WHERE')) {
      this.next();
      where = this.expression();
      checkHeight(where);
    }

    let groupBy: PathExpr | undefined;
    let groupByPos: number | undefined;
    if (this.atKeyword('GROUP')) {
      groupByPos = this.next().pos;
      this.expectKeyword('BY');
      groupBy = this.path('a property path after GROUP BY');
    }

    if (this.peek().kind !== 'eof') {
      const alternatives: string[] = [];
      if (where !== undefined && groupBy === undefined) alternatives.push('AND', 'OR');
      if (where === undefined && groupBy === undefined) alternatives.push('WHERE');
      if (groupBy === undefined) alternatives.push('GROUP BY');
      alternatives.push('end of query');
      this.fail(oneOf(alternatives));
    }

    return {
      select,
      selectPos,
      source,
      sourcePos,
      ...(top !== undefined && { top }),
      ...(where !== undefined && { where }),
      ...(groupBy !== undefined && { groupBy, groupByPos: groupByPos! }),
    };
  }

  private source(): QuerySource {
    const expected = 'devices, devices.modules or devices.jobs';
    if (!this.atKeyword('DEVICES')) this.fail(expected);
    this.next();
    if (!this.atPunct('.')) return 'devices';
    this.next();
    if (this.atKeyword('MODULES')) {
      this.next();
      return 'devices.modules';
    }
    if (this.atKeyword('JOBS')) {
      this.next();
      return 'devices.jobs';
    }
    return this.fail('modules or jobs after devices.');
  }

  private selectItem(): SelectItem {
    const t = this.peek();
    let item: SelectItem;
    if (t.kind === 'name' && Parser.isPunct(this.peek(1), '(')) {
      const name = (t.value as string).toUpperCase();
      if (!AGGREGATES.has(name)) {
        if (FUNCTIONS.has(name)) {
          throw new QueryError(
            'Invalid query',
            t.pos,
            ` near '${t.text}': functions are not allowed in the SELECT list; expected a property path or COUNT, SUM, AVG, MIN, MAX`,
          );
        }
        throw unknownFunction(t);
      }
      this.next();
      this.next();
      if (name === 'COUNT') {
        this.expectPunct(')', "')' (COUNT() takes no argument)");
        item = { kind: 'aggregate', fn: 'COUNT', pos: t.pos };
      } else {
        if (this.atPunct(')')) this.fail(`an argument for ${name}()`);
        const arg = this.expression();
        checkHeight(arg);
        this.expectPunct(')');
        item = { kind: 'aggregate', fn: name as AggregateFn, arg, pos: t.pos };
      }
    } else if (t.kind === 'name' || t.kind === 'escaped') {
      item = { kind: 'path', path: this.path("'*', a property path or an aggregate"), pos: t.pos };
    } else {
      this.fail("'*', a property path or an aggregate");
    }
    if (this.atKeyword('AS')) {
      this.next();
      const a = this.peek();
      if (a.kind === 'escaped' || (a.kind === 'name' && !RESERVED.has((a.value as string).toUpperCase()))) {
        this.next();
        return { ...item, alias: a.value as string };
      }
      this.fail('an alias name after AS');
    }
    return item;
  }

  // ── expressions (lowest precedence first) ────────────────────────────────────────────────

  private expression(): Expr {
    return this.or();
  }

  private or(): Expr {
    const first = this.and();
    if (!this.atKeyword('OR')) return first;
    const operands = [first];
    while (this.atKeyword('OR')) {
      this.next();
      operands.push(this.and());
    }
    return { kind: 'or', operands, pos: first.pos };
  }

  private and(): Expr {
    const first = this.not();
    if (!this.atKeyword('AND')) return first;
    const operands = [first];
    while (this.atKeyword('AND')) {
      this.next();
      operands.push(this.not());
    }
    return { kind: 'and', operands, pos: first.pos };
  }

  private not(): Expr {
    if (!this.atKeyword('NOT')) return this.comparison();
    const t = this.next();
    this.enter(t);
    const operand = this.not();
    this.leave();
    return { kind: 'not', operand, pos: t.pos };
  }

  private comparison(): Expr {
    const left = this.additive();
    const t = this.peek();
    const op = t.kind === 'punct' ? COMPARISON_OPS.get(t.value as string) : undefined;
    if (op !== undefined) {
      this.next();
      return { kind: 'compare', op, left, right: this.additive(), pos: left.pos };
    }
    let negated: boolean;
    if (Parser.isKeyword(t, 'IN')) negated = false;
    else if (Parser.isKeyword(t, 'NIN')) negated = true;
    // NOT IN: not in the hub's grammar, but SQL users write it and it cannot mean anything else.
    else if (Parser.isKeyword(t, 'NOT') && Parser.isKeyword(this.peek(1), 'IN')) {
      this.next();
      negated = true;
    } else return left;
    const keyword = this.next();
    if (!this.atPunct('[')) this.fail(`an array constant such as ['a', 'b'] after ${keyword.text}`);
    return { kind: 'in', negated, operand: left, list: this.array(), pos: left.pos };
  }

  private additive(): Expr {
    let left = this.multiplicative();
    while (this.atPunct('+') || this.atPunct('-')) {
      const op = this.next().value as '+' | '-';
      left = { kind: 'arithmetic', op, left, right: this.multiplicative(), pos: left.pos };
    }
    return left;
  }

  private multiplicative(): Expr {
    let left = this.unary();
    while (this.atPunct('*') || this.atPunct('/') || this.atPunct('%')) {
      const op = this.next().value as '*' | '/' | '%';
      left = { kind: 'arithmetic', op, left, right: this.unary(), pos: left.pos };
    }
    return left;
  }

  private unary(): Expr {
    if (!this.atPunct('-') && !this.atPunct('+')) return this.primary();
    const t = this.next();
    this.enter(t);
    const operand = this.unary();
    this.leave();
    return t.value === '-' ? { kind: 'negate', operand, pos: t.pos } : operand;
  }

  private primary(): Expr {
    const t = this.peek();
    switch (t.kind) {
      case 'number':
      case 'string':
        this.next();
        return { kind: 'literal', value: t.value, pos: t.pos };
      case 'escaped':
        return this.path('an expression');
      case 'punct':
        if (t.value === '(') {
          this.next();
          this.enter(t);
          const inner = this.expression();
          this.leave();
          this.expectPunct(')', "')' or an operator");
          return inner;
        }
        if (t.value === '[') return this.array();
        return this.fail('an expression');
      case 'name': {
        const upper = (t.value as string).toUpperCase();
        if (upper === 'TRUE' || upper === 'FALSE') {
          this.next();
          return { kind: 'literal', value: upper === 'TRUE', pos: t.pos };
        }
        if (upper === 'NULL') {
          this.next();
          return { kind: 'literal', value: null, pos: t.pos };
        }
        if (upper === 'UNDEFINED') {
          this.next();
          return { kind: 'literal', value: undefined, pos: t.pos };
        }
        if (Parser.isPunct(this.peek(1), '(')) return this.call();
        return this.path('an expression');
      }
      default:
        return this.fail('an expression');
    }
  }

  private call(): Expr {
    const t = this.next();
    const name = (t.value as string).toUpperCase();
    const def = FUNCTIONS.get(name);
    if (def === undefined) {
      if (AGGREGATES.has(name)) {
        throw new QueryError('Invalid query', t.pos, ` near '${t.text}': aggregate ${name}() is only allowed in the SELECT list`);
      }
      throw unknownFunction(t);
    }
    this.next(); // (
    const args: Expr[] = [];
    if (!this.atPunct(')')) {
      this.enter(t);
      args.push(this.expression());
      while (this.atPunct(',')) {
        this.next();
        args.push(this.expression());
      }
      this.leave();
    }
    if (!this.atPunct(')')) this.fail(args.length === 0 ? "an argument or ')'" : "',' or ')'");
    this.next();
    if (args.length !== def.arity) {
      throw new QueryError('Invalid query', t.pos, ` near '${t.text}': ${name} takes ${def.arity} argument${def.arity === 1 ? '' : 's'}, got ${args.length}`);
    }
    return { kind: 'call', name, args, pos: t.pos };
  }

  private array(): ArrayExpr {
    const open = this.expectPunct('[');
    const items: Expr[] = [];
    if (!this.atPunct(']')) {
      this.enter(open);
      items.push(this.expression());
      while (this.atPunct(',')) {
        this.next();
        items.push(this.expression());
      }
      this.leave();
    }
    this.expectPunct(']', "',' or ']'");
    return { kind: 'array', items, pos: open.pos };
  }

  /** attribute_name ('.' attribute_name)*, each a bare non-reserved name or a [[escaped]] one. */
  private path(expected: string): PathExpr {
    const segments: string[] = [];
    const start = this.peek().pos;
    let end = start;
    do {
      if (segments.length > 0) this.next(); // the '.'
      const t = this.peek();
      if (t.kind === 'name') {
        if (RESERVED.has((t.value as string).toUpperCase())) {
          throw syntaxError(
            t.pos,
            t.text,
            segments.length === 0
              ? `expected ${expected} ('${t.text}' is a reserved word; write [[${t.text}]] for a property of that name)`
              : `'${t.text}' is a reserved word; write [[${t.text}]] to use it as a property name`,
          );
        }
      } else if (t.kind !== 'escaped') {
        this.fail(segments.length === 0 ? expected : "a property name after '.'");
      }
      this.next();
      segments.push(t.value as string);
      end = t.end;
    } while (this.atPunct('.'));
    return { kind: 'path', segments, pos: start, end };
  }
}

function unknownFunction(t: Token): QueryError {
  return new QueryError(`Unknown function '${t.text}'`, t.pos, `: supported functions are ${FUNCTION_NAMES}`);
}

function children(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'and':
    case 'or':
      return e.operands;
    case 'compare':
    case 'arithmetic':
      return [e.left, e.right];
    case 'not':
    case 'negate':
      return [e.operand];
    case 'in':
      return [e.operand, e.list];
    case 'call':
      return e.args;
    case 'array':
      return e.items;
    default:
      return [];
  }
}

/** Iterative on purpose: compiling and evaluating recurse per level, this check must not. */
function checkHeight(root: Expr): void {
  const stack: Array<[Expr, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [e, h] = stack.pop()!;
    if (h > MAX_HEIGHT) {
      throw new QueryError('Query too complex', root.pos, `: the expression starting here is more than ${MAX_HEIGHT} operators deep`);
    }
    for (const c of children(e)) stack.push([c, h + 1]);
  }
}
