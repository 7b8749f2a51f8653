import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { HubError } from '../errors.js';
import { REFUSED_CONNECTION_GRACE_MS } from '../limits.js';
import { rawHubErrorResponse } from './error-envelope.js';

/**
 * Requests Node's HTTP parser refuses before our request listener runs (an unknown method such as
 * `FOO`, a header line without a colon, headers over 16 KB, bytes that are not HTTP) get the hub's
 * envelope: 400 ArgumentInvalid with `iothub-errorcode` and a JSON `Message`, where Node would
 * answer a bare 400 or 431. IoT Hub's front end answers all of these 400 (docs/protocol.md
 * §14). A reset or timed-out connection is only closed: nobody is there to read an answer.
 * A CONNECT request (Node's 'connect' event, which otherwise drops the socket) and an upgrade to
 * anything but MQTT over WebSocket get the envelope too.
 */
export function answerClientErrors(server: Server, serve: (req: IncomingMessage, res: ServerResponse) => void): void {
  // EMULATOR CHOICE: an `Expect` other than 100-continue is ignored and the request served, where
  // Node would answer a bare 417 (IoT Hub has no error code for it; clients never send one).
  server.on('checkExpectation', serve);
  server.on('connect', (req: IncomingMessage, socket: Duplex) =>
    answerAndClose(socket, new HubError('NotFound', `The emulator does not implement ${req.method}.`)),
  );

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const code = error.code ?? '';
    // A response already under way on this connection cannot be followed by another one.
    const busy = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (code === 'ECONNRESET' || code === 'ERR_HTTP_REQUEST_TIMEOUT' || busy || !socket.writable) {
      socket.destroy();
      return;
    }
    answerAndClose(socket, new HubError('ArgumentInvalid', describe(code)));
  });
}

/**
 * Writes the envelope on a socket no request object owns and closes it: ends our side, and
 * destroys it a second later whether or not the peer has closed its own (a half-closed socket
 * would otherwise stay open for as long as a peer that never closes likes).
 */
export function answerAndClose(socket: Duplex, error: HubError): void {
  socket.on('error', () => socket.destroy());
  socket.end(rawHubErrorResponse(error));
  setTimeout(() => socket.destroy(), REFUSED_CONNECTION_GRACE_MS).unref();
}

function describe(code: string): string {
  switch (code) {
    case 'HPE_INVALID_METHOD':
      return 'The HTTP method is not supported.';
    case 'HPE_HEADER_OVERFLOW':
      return 'The request line and headers exceed 16 KB.';
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_INVALID_HEADER_VALUE':
      return 'A request header is malformed.';
    default:
      return `The request is not valid HTTP (${code || 'malformed'}).`;
  }
}
