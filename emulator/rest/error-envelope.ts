import { STATUS_CODES } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { asHubError, restErrorBody, restErrorHeaders } from '../error-rendering.js';
import { HubError } from '../errors.js';

/** Writes an express route's error response: envelope A (docs/protocol.md §3.9), its status and `iothub-errorcode`. */
export function sendHubError(res: Response, error: HubError): void {
  res.status(error.status).set(restErrorHeaders(error)).json(restErrorBody(error, 'A'));
}

interface BodyParserError {
  type?: string;
  status?: number;
}

/** The last middleware: every failure leaves as a hub error, never as an HTML page or a crash. */
export function errorHandler(log: { error(obj: object, msg: string): void }) {
  return (error: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) return;
    if (error instanceof HubError) return sendHubError(res, error);
    const parserError = error as BodyParserError;
    if (parserError?.type === 'entity.too.large') {
      return sendHubError(res, new HubError('MessageTooLarge', 'The request body is too large.'));
    }
    if (parserError?.status && parserError.status >= 400 && parserError.status < 500) {
      return sendHubError(res, new HubError('ArgumentInvalid', 'The request could not be read.'));
    }
    log.error({ err: error }, 'unexpected error in a REST handler');
    sendHubError(res, asHubError(error));
  };
}

/**
 * The same answer as raw HTTP/1.1 bytes, for requests Node's HTTP parser refuses before any
 * request object exists (rest/client-errors.ts); the connection closes after it.
 */
export function rawHubErrorResponse(error: HubError): string {
  const text = JSON.stringify(restErrorBody(error, 'A'));
  const headers = Object.entries(restErrorHeaders(error))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
    `Content-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\n` +
    headers +
    `Connection: close\r\n\r\n${text}`
  );
}
