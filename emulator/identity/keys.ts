import { randomBytes } from 'node:crypto';
import { HubError } from '../errors.js';

export function generateKey(): string {
  return randomBytes(32).toString('base64');
}

/** IoT Hub accepts base64 symmetric keys of 16 to 64 bytes. */
export function validateKey(key: string, which: string): void {
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(key) ? Buffer.from(key, 'base64') : undefined;
  if (!bytes || bytes.length < 16 || bytes.length > 64) {
    throw new HubError('ArgumentInvalid', `The ${which} key must be a base64-encoded value of 16 to 64 bytes.`);
  }
}
