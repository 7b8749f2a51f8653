import { randomFillSync } from 'node:crypto';
import { HubError } from '../errors.js';

// Registering 1,000,000 devices draws three random values each: one CSPRNG call per 8 KB
// instead of per value (a third of the registry's own time went to those calls).
const pool = Buffer.alloc(8192);
let poolOffset = pool.length;

/** Where `n` fresh bytes from the CSPRNG start in the pool: each byte of it is used once. */
function take(n: number): number {
  if (poolOffset + n > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += n;
  return at;
}

function randomString(n: number, encoding: 'base64' | 'hex'): string {
  const at = take(n);
  return pool.toString(encoding, at, at + n);
}

export function generateKey(): string {
  return randomString(32, 'base64');
}

/** A registry generationId: a random 56-bit decimal number, as the hub shows. */
export function generateGenerationId(): string {
  const at = take(7);
  return decimal56(pool.readUIntBE(at, 3), pool.readUInt32BE(at + 3));
}

/**
 * `high · 2³² + low` (high < 2²⁴) in decimal, as String(BigInt) writes it, without a BigInt (a
 * hex string and a BigInt parse per device were a tenth of bulk registration's key work):
 * 2³² = 42·10⁸ + 94967296, and every partial sum stays below 2⁵³.
 */
export function decimal56(high: number, low: number): string {
  const t = high * 94_967_296 + low;
  const upper = high * 42 + Math.floor(t / 1e8);
  const lower = t % 1e8;
  return upper === 0 ? String(lower) : `${upper}${String(lower).padStart(8, '0')}`;
}

/** IoT Hub accepts base64 symmetric keys of 16 to 64 bytes. */
export function validateKey(key: string, which: string): void {
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(key) ? Buffer.from(key, 'base64') : undefined;
  if (!bytes || bytes.length < 16 || bytes.length > 64) {
    throw new HubError('ArgumentInvalid', `The ${which} key must be a base64-encoded value of 16 to 64 bytes.`);
  }
}
