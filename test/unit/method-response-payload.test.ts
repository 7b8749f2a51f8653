import { describe, expect, it } from 'vitest';
import { readMethodResponsePayload } from '../../emulator/methods/method-response-payload.js';

const read = (text: string) => readMethodResponsePayload(Buffer.from(text, 'utf8'));
const payloadOf = (text: string) => {
  const result = read(text);
  if (!result.ok) throw new Error(`expected ${text} to be read, got: ${result.reason}`);
  return result.payload;
};

describe('readMethodResponsePayload: what a device may answer a method with', () => {
  it('reads strict JSON as JSON.parse does, and an empty body as null', () => {
    expect(payloadOf('{"locked":true,"by":"alice"}')).toEqual({ locked: true, by: 'alice' });
    expect(payloadOf('null')).toBeNull();
    expect(payloadOf('"text"')).toBe('text');
    expect(payloadOf('[1,2.5,-3e2]')).toEqual([1, 2.5, -300]);
    expect(readMethodResponsePayload(Buffer.alloc(0))).toEqual({ ok: true, payload: null });
  });

  it("reads the .NET tutorial's single-quoted answer as a string", () => {
    expect(payloadOf("'Door was locked.'")).toBe('Door was locked.');
  });

  it("reads Newtonsoft's lenient forms: quotes, unquoted names, trailing commas, comments", () => {
    expect(payloadOf("{'filename': 'logs.zip'}")).toEqual({ filename: 'logs.zip' });
    expect(payloadOf('{result: "ok", code: 7,}')).toEqual({ result: 'ok', code: 7 });
    expect(payloadOf('[1, 2, 3,]')).toEqual([1, 2, 3]);
    expect(payloadOf('/* block */ {"a": 1 // line\n}')).toEqual({ a: 1 });
    expect(payloadOf("{'it\\'s': 'a \"quoted\" word'}")).toEqual({ "it's": 'a "quoted" word' });
  });

  it('renders NaN and Infinity as the strings Newtonsoft writes, at any depth', () => {
    expect(payloadOf('NaN')).toBe('NaN');
    expect(payloadOf('{temp: Infinity, list: [-Infinity, 1, NaN], nested: {x: NaN}}')).toEqual({
      temp: 'Infinity',
      list: ['-Infinity', 1, 'NaN'],
      nested: { x: 'NaN' },
    });
    // the result is strict JSON again: nothing turns into null on the way out
    expect(JSON.stringify(payloadOf('[NaN]'))).toBe('["NaN"]');
  });

  it('keeps a "__proto__" name as data, never as the prototype', () => {
    const payload = payloadOf("{'__proto__': {polluted: true}, a: NaN}") as Record<string, unknown>;
    expect(Object.getPrototypeOf(payload)).toBe(Object.prototype);
    expect(Object.keys(payload)).toEqual(['__proto__', 'a']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses what is not JSON even in that dialect', () => {
    for (const text of ['not json', 'Door was locked.', "{'a': 1", '{a: 1} trailing', '<xml/>']) {
      const result = read(text);
      expect(result.ok, text).toBe(false);
    }
  });
});
