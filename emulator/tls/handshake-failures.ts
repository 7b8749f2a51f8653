import type tls from 'node:tls';
import type { Logger } from 'pino';

/** At most one log line per listener this often; the rest are counted into the next one. */
const LOG_EVERY_MS = 10_000;

/**
 * Logs TLS handshakes that fail, at info, with what usually causes them: a client that does not
 * trust the emulator's CA. Node's TLS client then reports "unable to verify the first certificate"
 * or "self-signed certificate in certificate chain" — easy to mistake for a bad key — and hangs
 * up mid-handshake (ECONNRESET here); curl and OpenSSL send an "unknown ca" alert instead.
 * Rate-limited: a fleet of thousands of untrusting devices must not flood the log.
 */
export function logHandshakeFailures(server: tls.Server, what: string, caPath: string, log: Logger): void {
  let lastLoggedAt = 0;
  let unlogged = 0;
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    const now = Date.now();
    if (now - lastLoggedAt < LOG_EVERY_MS) {
      unlogged++;
      return;
    }
    lastLoggedAt = now;
    const alsoFailed = unlogged;
    unlogged = 0;
    log.info(
      {
        listener: what,
        ...(socket.remoteAddress ? { client: `${socket.remoteAddress}:${socket.remotePort}` } : {}),
        reason: error.code ?? error.message,
        ...(alsoFailed ? { alsoFailedSinceLastLine: alsoFailed } : {}),
      },
      `TLS handshake failed on ${what}: if the client says "unable to verify the first certificate" or "self-signed certificate in certificate chain", ` +
        `it does not trust the emulator's CA; run it with NODE_EXTRA_CA_CERTS=${caPath}`,
    );
  });
}
