import type { Request } from 'express';
import { jsonBody as parseBody } from './json.js';

const EMPTY = Buffer.alloc(0);

/** The JSON body of a request; raw bytes are parsed here so bad JSON gets the hub's envelope (json.ts). */
export function jsonBody(req: Request, required = true): unknown {
  const raw = Buffer.isBuffer(req.body) ? req.body : EMPTY;
  return !required && raw.length === 0 ? undefined : parseBody(raw);
}

export function ifMatch(req: Request): string | undefined {
  const value = req.headers['if-match'];
  return Array.isArray(value) ? value[0] : value;
}

/** A path parameter, already percent-decoded by express. */
export function param(req: Request, name: string): string {
  const value = req.params[name];
  return Array.isArray(value) ? value.join('/') : String(value);
}
