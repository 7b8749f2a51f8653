import type { NextFunction, Request, Response } from 'express';
import type { ServiceAuthenticator } from '../identity/auth.js';
import type { Permission } from '../identity/policies.js';

/** Middleware: the request's SAS must come from a policy holding one of `anyOf` (401 otherwise). */
export function requires(auth: ServiceAuthenticator, ...anyOf: Permission[]) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    auth.authorize(req.headers.authorization, anyOf);
    next();
  };
}
