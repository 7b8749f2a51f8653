import type { ServerResponse } from 'node:http';
import { restErrorBody, restErrorHeaders } from '../error-rendering.js';
import { HubError } from '../errors.js';

/**
 * JSON in and out of the REST face: a request body's parse, the one every route shares (express's
 * through request.ts's jsonBody), and the JSON answer of the routes served before express
 * (direct-method-route.ts, twin-route.ts, bulk-route.ts) with IoT Hub's content type and an exact
 * Content-Length.
 */

const JSON_TYPE = 'application/json; charset=utf-8';

/** A request body read whole (request-body.ts's readBody): empty is ArgumentNull, bad JSON ArgumentInvalid. */
export function jsonBody(raw: Buffer): unknown {
  if (raw.length === 0) throw new HubError('ArgumentNull', 'The request body cannot be empty.');
  try {
    // Decoded where it lies: readBody has already joined the chunks into this one buffer.
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new HubError('ArgumentInvalid', `The request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Answers `body` as JSON with `status`; nothing once an answer has been sent or the socket is gone. */
export function send(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text), ...extraHeaders };
  res.writeHead(status, headers);
  res.end(text);
}

/** A hub error as the routes before express answer it: envelope A, its status and `iothub-errorcode` (express's is error-envelope.ts). */
export function sendError(res: ServerResponse, error: HubError): void {
  send(res, error.status, restErrorBody(error, 'A'), restErrorHeaders(error));
}
