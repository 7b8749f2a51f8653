/**
 * A seeded pseudo-random source for the MQTT side of the fuzz suite (mulberry32): a case is
 * reproduced from (run seed, batch, index) alone. The MQTT cases are byte mutations of valid
 * packets sent down a live connection, where what the hub answers depends on timing, so
 * fast-check's shrinking (re-running a case many times to find a smaller one) would chase timing
 * rather than input; a plain generator that is cheap and exactly repeatable fits better there.
 * The REST and query cases are request → answer, and use fast-check (rest-cases.ts).
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** [0, 1) */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255);
    return out;
  }

  /** A string mixing ASCII, separators, control characters, U+0000 and astral characters. */
  text(maxLength: number): string {
    const n = this.int(0, maxLength);
    let out = '';
    for (let i = 0; i < n; i++) {
      const kind = this.int(0, 9);
      if (kind < 5) out += String.fromCharCode(this.int(0x61, 0x7a));
      else if (kind === 5) out += this.pick(['/', '?', '#', '+', '$', '&', '=', '%', '.', ' ', '"', '\\', '[', ']']);
      else if (kind === 6) out += String.fromCharCode(this.int(0, 0x1f));
      else if (kind === 7) out += this.pick(['é', '中', '😀', '\u0000', '\ufffd', '\u202e']);
      else out += String(this.int(0, 9));
    }
    return out;
  }

  /** A JSON value for twin and method bodies: nested, wide, with `$` and `.` keys, nulls, arrays, long strings. */
  json(depth = 0): unknown {
    const kind = depth > 6 ? this.int(0, 4) : this.int(0, 7);
    switch (kind) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5) ? this.int(-1e6, 1e6) : this.pick([0, -0, 1.5e308, -1e-308, 2 ** 53 + 1, 0.1]);
      case 2:
        return this.chance(0.5);
      case 3:
        return this.chance(0.05) ? 'x'.repeat(this.int(4000, 40_000)) : this.text(24);
      case 4:
        return this.text(8);
      case 5:
        return Array.from({ length: this.int(0, 5) }, () => this.json(depth + 1));
      default: {
        const object: Record<string, unknown> = {};
        for (let i = this.int(0, 6); i > 0; i--) {
          const key = this.chance(0.15) ? this.pick(['$version', '$metadata', 'a.b', 'a b', '', '$', 'x'.repeat(1100), '\u0000']) : this.text(10) || 'k';
          object[key] = this.json(depth + 1);
        }
        return object;
      }
    }
  }

  /** An object nested `levels` deep: the twin depth limit is 10 (5 under desired and reported). */
  deep(levels: number): unknown {
    let value: unknown = this.int(0, 9);
    for (let i = 0; i < levels; i++) value = { [`d${i}`]: value };
    return value;
  }
}

/** A 32-bit seed for one stream of a run: (run seed, stream name, batch). */
export function streamSeed(seed: number, stream: string, batch: number): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (const c of `${stream}:${batch}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}
