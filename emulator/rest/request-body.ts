import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import zlib from 'node:zlib';
import { HubError } from '../errors.js';
import { REFUSED_CONNECTION_GRACE_MS, REST_BODY_LIMIT_BYTES } from '../limits.js';
import { sendHubError } from './error-envelope.js';
import { sendError } from './json.js';

/**
 * Reads a request body of at most `limit` bytes, for every route (express and the direct-method
 * route alike). A body known to be larger (Content-Length) is refused before a byte of it is read;
 * one that grows past the limit is refused at the chunk that crosses it. Either way `done` gets
 * undefined and the caller answers 413 MessageTooLarge through `closeAfterAnswer`: the rest is
 * discarded, not buffered, and the connection is closed a moment after the answer, instead of
 * being read to its end (docs/protocol.md §14).
 */
export function readBody(req: IncomingMessage, done: (body: Buffer | undefined) => void, limit = REST_BODY_LIMIT_BYTES): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    req.resume();
    done(undefined);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (body: Buffer | undefined): void => {
    if (finished) return;
    finished = true;
    req.off('data', onData);
    req.off('end', onEnd);
    done(body);
  };
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > limit) {
      chunks.length = 0;
      finish(undefined);
      req.resume(); // flowing with no listener: the rest is discarded until the connection closes
    } else chunks.push(chunk);
  };
  const onEnd = (): void => finish(Buffer.concat(chunks, size));
  req.on('data', onData);
  req.on('end', onEnd);
}

/**
 * Marks a response as the last on its connection (`Connection: close`) and destroys the socket a
 * second after the answer has been written: the peer may still be sending a body nobody reads,
 * and a half-closed socket waiting for its FIN would stay open as long as the peer likes.
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('connection', 'close');
  res.once('finish', () => setTimeout(() => req.socket.destroy(), REFUSED_CONNECTION_GRACE_MS).unref());
}

export const tooLarge = (): HubError => new HubError('MessageTooLarge', `The request body exceeds the maximum of ${REST_BODY_LIMIT_BYTES} bytes.`);

/**
 * A route before express refusing a body readBody found over the limit, as express's body reader
 * does: 413 before any route or metric sees it, and the connection closed after the answer.
 */
export function refuseTooLarge(req: IncomingMessage, res: ServerResponse): void {
  closeAfterAnswer(req, res);
  sendError(res, tooLarge());
}

/**
 * express: the raw body as a Buffer on `req.body`, parsed by the handlers so bad JSON gets the
 * hub's envelope. A `Content-Encoding` of gzip, deflate or br is undone, as express's body parser
 * did, with the same limit on the decoded body (a small body that inflates past it is 413 too);
 * any other encoding, or bytes that do not decode, is 400 ArgumentInvalid.
 */
export function bodyReader(limit = REST_BODY_LIMIT_BYTES): RequestHandler {
  return (req, res, next) => {
    readBody(
      req,
      (body) => {
        if (body === undefined) {
          closeAfterAnswer(req, res);
          sendHubError(res, tooLarge());
          return;
        }
        try {
          req.body = decode(body, req.headers['content-encoding'], limit);
        } catch (error) {
          sendHubError(res, error as HubError);
          return;
        }
        next();
      },
      limit,
    );
  };
}

function decode(body: Buffer, encoding: string | undefined, limit: number): Buffer {
  const name = (encoding ?? 'identity').trim().toLowerCase();
  if (name === 'identity' || body.length === 0) return body;
  const inflate =
    name === 'gzip' || name === 'x-gzip' ? zlib.gunzipSync : name === 'deflate' ? zlib.inflateSync : name === 'br' ? zlib.brotliDecompressSync : undefined;
  if (!inflate) throw new HubError('ArgumentInvalid', `The content encoding '${name}' is not supported.`);
  try {
    return inflate(body, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
    throw new HubError('ArgumentInvalid', `The request body is not valid ${name}.`);
  }
}
