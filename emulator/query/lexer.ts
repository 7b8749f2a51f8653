import { QueryError, syntaxError } from './errors.js';

/**
 * `name` is a bare word (keyword or property name; the parser decides which, case-insensitively);
 * `escaped` is a `[[…]]` name, which is never a keyword — that is its whole purpose.
 */
export type TokenKind = 'name' | 'escaped' | 'number' | 'string' | 'punct' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** The source text of the token, for messages. */
  readonly text: string;
  /** name/escaped: the name; string: the unescaped value; number: the value; punct: the operator. */
  readonly value: string | number;
  readonly pos: number;
  readonly end: number;
}

const PUNCT2 = new Set(['!=', '<>', '<=', '>=']);
const PUNCT1 = new Set(['*', ',', '.', '(', ')', '[', ']', '=', '<', '>', '+', '-', '/', '%']);

function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 /* _ */ || c === 36 /* $ */ || c > 127;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || isDigit(c);
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 0xa0 || c === 0xfeff;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  "'": "'",
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/**
 * Splits the whole text up front: queries are at most 8 KB, and a token array lets the
 * parser look ahead freely (FROM devices . jobs, function-call detection) without re-lexing.
 */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const n = text.length;
  let i = 0;
  while (true) {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const start = i;
    const c = text.charCodeAt(i);
    // A segment after '.' is always a property name, so `tags.2ndFloor` works even though
    // a bare `2ndFloor` would not be a valid number.
    const prev = tokens[tokens.length - 1];
    const afterDot = prev !== undefined && prev.kind === 'punct' && prev.value === '.' && prev.end === start;

    if (c === 91 /* [ */ && text.charCodeAt(i + 1) === 91) {
      tokens.push(lexEscapedName(text, start));
      i = tokens[tokens.length - 1]!.end;
      continue;
    }
    if (afterDot ? isNameChar(c) : isNameStart(c)) {
      i++;
      while (i < n && isNameChar(text.charCodeAt(i))) i++;
      const name = text.slice(start, i);
      tokens.push({ kind: 'name', text: name, value: name, pos: start, end: i });
      continue;
    }
    if (isDigit(c)) {
      tokens.push(lexNumber(text, start));
      i = tokens[tokens.length - 1]!.end;
      continue;
    }
    if (c === 39 /* ' */ || c === 34 /* " */) {
      tokens.push(lexString(text, start));
      i = tokens[tokens.length - 1]!.end;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (PUNCT2.has(two)) {
      tokens.push({ kind: 'punct', text: two, value: two, pos: start, end: i + 2 });
      i += 2;
      continue;
    }
    const one = text[i]!;
    if (PUNCT1.has(one)) {
      tokens.push({ kind: 'punct', text: one, value: one, pos: start, end: i + 1 });
      i += 1;
      continue;
    }
    if (one === '!') throw syntaxError(start, one, "unexpected character '!' (use != or NOT)");
    if (one === '&' || one === '|') throw syntaxError(start, one, `unexpected character '${one}' (use AND or OR)`);
    throw syntaxError(start, String.fromCodePoint(text.codePointAt(i)!), 'unexpected character');
  }
  tokens.push({ kind: 'eof', text: '', value: '', pos: n, end: n });
  return tokens;
}

function lexEscapedName(text: string, start: number): Token {
  const close = text.indexOf(']]', start + 2);
  if (close < 0) throw syntaxError(start, text.slice(start), "unterminated escaped name (missing closing ']]')");
  const name = text.slice(start + 2, close);
  if (name.length === 0) throw syntaxError(start, '[[]]', 'empty escaped name');
  return { kind: 'escaped', text: text.slice(start, close + 2), value: name, pos: start, end: close + 2 };
}

function lexNumber(text: string, start: number): Token {
  const n = text.length;
  let i = start;
  let value: number;
  if (text.charCodeAt(i) === 48 && (text[i + 1] === 'x' || text[i + 1] === 'X')) {
    i += 2;
    const digitsStart = i;
    while (i < n && isHexDigit(text.charCodeAt(i))) i++;
    if (i === digitsStart) throw syntaxError(start, text.slice(start, i + 1), 'expected hexadecimal digits after 0x');
    value = Number.parseInt(text.slice(digitsStart, i), 16);
  } else {
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (text[i] === '.' && isDigit(text.charCodeAt(i + 1))) {
      i++;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
    }
    if (text[i] === 'e' || text[i] === 'E') {
      let j = i + 1;
      if (text[j] === '+' || text[j] === '-') j++;
      if (isDigit(text.charCodeAt(j))) {
        i = j;
        while (i < n && isDigit(text.charCodeAt(i))) i++;
      }
    }
    value = Number(text.slice(start, i));
  }
  if (i < n && isNameChar(text.charCodeAt(i))) {
    let j = i;
    while (j < n && isNameChar(text.charCodeAt(j))) j++;
    throw syntaxError(start, text.slice(start, j), 'invalid number');
  }
  if (!Number.isFinite(value)) throw syntaxError(start, text.slice(start, i), 'number out of range');
  return { kind: 'number', text: text.slice(start, i), value, pos: start, end: i };
}

function lexString(text: string, start: number): Token {
  const quote = text[start]!;
  const n = text.length;
  let out = '';
  let i = start + 1;
  let chunk = i;
  while (true) {
    if (i >= n) throw unterminated(start, quote);
    const ch = text[i]!;
    if (ch === quote) break;
    if (ch !== '\\') {
      i++;
      continue;
    }
    out += text.slice(chunk, i);
    const esc = text[i + 1];
    if (esc === undefined) throw unterminated(start, quote);
    const simple = SIMPLE_ESCAPES[esc];
    if (simple !== undefined) {
      out += simple;
      i += 2;
    } else if (esc === 'u') {
      const hex = text.slice(i + 2, i + 6);
      if (hex.length < 4 || !/^[0-9a-fA-F]{4}$/.test(hex)) {
        throw syntaxError(i, text.slice(i, i + 6), 'invalid escape sequence: \\u needs 4 hexadecimal digits');
      }
      out += String.fromCharCode(Number.parseInt(hex, 16));
      i += 6;
    } else {
      throw syntaxError(i, text.slice(i, i + 2), `invalid escape sequence (allowed: \\' \\" \\\\ \\uXXXX)`);
    }
    chunk = i;
  }
  out += text.slice(chunk, i);
  return { kind: 'string', text: text.slice(start, i + 1), value: out, pos: start, end: i + 1 };
}

/** Points at the opening quote: the rest of the query is inside the string, so "near" would only echo it. */
function unterminated(start: number, quote: string): QueryError {
  return new QueryError('Syntax error', start, `: unterminated string literal (missing closing ${quote})`);
}
