import { describe, expect, it } from 'vitest';
import { cloneJson, type JsonObject } from '../../emulator/twin/json.js';
import { twinEtag } from '../../emulator/twin/twin-view.js';

// The twin path's fast helpers stand in for structuredClone and a BigInt write (docs/performance.md):
// they must give exactly what those gave.
describe('cloneJson', () => {
  it('copies every level of what JSON.parse gives, sharing nothing', () => {
    const original = JSON.parse('{"a":{"b":[1,{"c":"x"},[true,null]],"d":null},"e":-0.5,"f":""}') as JsonObject;
    const copy = cloneJson(original);
    expect(copy).toStrictEqual(structuredClone(original));
    (original.a as JsonObject).d = 'changed';
    ((original.a as JsonObject).b as JsonObject[])[1]!.c = 'changed';
    expect(copy).toStrictEqual(JSON.parse('{"a":{"b":[1,{"c":"x"},[true,null]],"d":null},"e":-0.5,"f":""}'));
  });

  it('keeps a member named __proto__ an own member, as JSON.parse and structuredClone do', () => {
    const original = JSON.parse('{"__proto__":{"polluted":true},"k":1}') as JsonObject;
    const copy = cloneJson(original);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__', 'k']);
    expect(JSON.stringify(copy)).toBe('{"__proto__":{"polluted":true},"k":1}');
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('returns primitives as they are', () => {
    for (const value of [null, 0, 1.5, 'text', true, false]) expect(cloneJson(value)).toBe(value);
  });
});

describe('twinEtag', () => {
  const reference = (counter: number): string => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigUInt64BE(BigInt(counter));
    return buffer.toString('base64');
  };

  it('is base64 of the 8-byte big-endian counter, as before, across the 32-bit boundary', () => {
    expect(twinEtag(1)).toBe('AAAAAAAAAAE=');
    for (const counter of [0, 2, 255, 65_536, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0001, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER]) {
      expect(twinEtag(counter)).toBe(reference(counter));
    }
  });
});
