// Seeded pseudo-randomness. Every decision about a device (does it churn, never connect, fail
// this call) comes from a stream keyed by (seed, device index, purpose), so a run is reproducible
// however the device range is split across shards and worker processes.

/** A source of numbers in [0, 1). */
export type Random = () => number;

/** mulberry32: tiny, fast and good enough for simulation (not for secrets). */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the parts' text, so (seed, index, purpose) maps to a well-spread 32-bit seed. */
export function hashSeed(...parts: readonly (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const text = `${part}\u0000`;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
  }
  return h >>> 0;
}

/** The stream one device uses for one purpose. */
export function deviceRandom(seed: number, index: number, purpose: string): Random {
  return mulberry32(hashSeed(seed, index, purpose));
}

/** A one-off draw for a yes/no property of a device that must not depend on the order of events. */
export function deviceChance(seed: number, index: number, purpose: string): number {
  return deviceRandom(seed, index, purpose)();
}
