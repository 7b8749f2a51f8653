import { randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { HubError } from '../errors.js';
import { isoTime } from '../time.js';

function trackingId(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

function dotNetTimestamp(date = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(date.getUTCMonth() + 1)}/${p(date.getUTCDate())}/${date.getUTCFullYear()} ${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())}`;
}

/**
 * IoT Hub's error body (docs/protocol.md §3.9): envelope A (`ErrorCode:<Name>;<text>`, which the Node SDK
 * parses) or, for direct methods, envelope B (a JSON string with the numeric errorCode).
 */
export function hubErrorBody(error: HubError): { Message: string; ExceptionMessage: string } {
  const id = trackingId();
  const message =
    error.envelope === 'json'
      ? JSON.stringify({ errorCode: error.code, trackingId: id, message: error.message, info: error.info ?? {}, timestampUtc: isoTime() })
      : `ErrorCode:${error.errorName};${error.message}`;
  const exceptionMessage = error.envelope === 'json' ? '' : `Tracking ID:${id}-G:0-TimeStamp:${dotNetTimestamp()}`;
  return { Message: message, ExceptionMessage: exceptionMessage };
}

/** Writes the error response: its status, the `iothub-errorcode` header and the envelope. */
export function sendHubError(res: Response, error: HubError): void {
  res.status(error.status).set('iothub-errorcode', error.errorName).json(hubErrorBody(error));
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
    sendHubError(res, new HubError('ServerError', 'An internal error occurred in the emulator.'));
  };
}
