import { randomFillSync } from 'node:crypto';
import { HubError } from '../errors.js';

// Registering 1,000,000 devices draws three random values each: one CSPRNG call per 8 KB
// instead of per value (a third of the registry's own time went to those calls).
const pool = Buffer.alloc(8192);
let poolOffset = pool.length;

/** `n` fresh bytes from the CSPRNG, rendered: each byte of the pool is used once. */
function randomString(n: number, encoding: 'base64' | 'hex'): string {
  if (poolOffset + n > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const text = pool.toString(encoding, poolOffset, poolOffset + n);
  poolOffset += n;
  return text;
}

export function generateKey(): string {
  return randomString(32, 'base64');
}

/** A registry generationId: a random 56-bit decimal number, as the hub shows. */
export function generateGenerationId(): string {
  return String(BigInt(`0x${randomString(7, 'hex')}`));
}

/** IoT Hub accepts base64 symmetric keys of 16 to 64 bytes. */
export function validateKey(key: string, which: string): void {
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(key) ? Buffer.from(key, 'base64') : undefined;
  if (!bytes || bytes.length < 16 || bytes.length > 64) {
    throw new HubError('ArgumentInvalid', `The ${which} key must be a base64-encoded value of 16 to 64 bytes.`);
  }
}
