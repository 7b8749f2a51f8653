import type { Request } from 'express';
import { HubError } from '../errors.js';

/** The JSON body of a request; raw bytes are parsed here so bad JSON gets the hub's envelope. */
export function jsonBody(req: Request, required = true): unknown {
  const raw = req.body as Buffer | undefined;
  if (!Buffer.isBuffer(raw) || raw.length === 0) {
    if (required) throw new HubError('ArgumentNull', 'The request body cannot be empty.');
    return undefined;
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new HubError('ArgumentInvalid', `The request body is not valid JSON: ${(error as Error).message}`);
  }
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
