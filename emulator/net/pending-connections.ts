import type { EventEmitter } from 'node:events';
import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';

/**
 * Bounds on connections that have not authenticated yet, for every listener of the hub (MQTT
 * 8883, HTTPS/WebSocket 443, AMQP 5671 and its WebSocket): docs/protocol.md §14.
 *
 * How a listener uses it (the AMQP listener too):
 *
 *   const server = tls.createServer({ ...credentials, ...tlsHandshakeOptions(limits) }, onSecure);
 *   const pending = guardListener(server, 'AMQP/TLS', limits, log);
 *   // once the peer has proven who it is (SASL done, MQTT CONNACK 0, …):
 *   pending.authenticated(socket);   // the TLS socket (or the raw one on a plain listener)
 *
 * - Every accepted TCP connection counts as pending until `authenticated` is called for it (or
 *   it closes). Above `maxPendingConnections` a new connection is closed at once, so idle
 *   sockets cannot take the descriptors real devices need.
 * - On a TLS listener the handshake must finish within `tlsHandshakeTimeoutMs` (Node measures it
 *   from the accept). Node only reports a timed-out or failed handshake ('tlsClientError') and
 *   leaves the socket open; the guard closes it.
 * Counting is open connections minus authenticated ones, so no map from a TLS socket back to
 * the TCP socket under it is needed (Node does not expose one).
 */
export interface ListenerLimits {
  tlsHandshakeTimeoutMs: number;
  maxPendingConnections: number;
}

/** Spread into tls.createServer / https.createServer options. */
export function tlsHandshakeOptions(limits: ListenerLimits): Pick<tls.TlsOptions, 'handshakeTimeout'> {
  return { handshakeTimeout: limits.tlsHandshakeTimeoutMs };
}

export class PendingConnections {
  private open = 0;
  private readonly authenticatedSockets = new WeakSet<object>();
  private authenticatedCount = 0;
  private refusedCount = 0;

  constructor(
    readonly name: string,
    private readonly maxPending: number,
    private readonly log?: Pick<Logger, 'warn'>,
  ) {}

  /** Connections accepted and not authenticated yet. */
  get pending(): number {
    return this.open - this.authenticatedCount;
  }

  /** How many connections were closed at accept for being over the cap. */
  get refused(): number {
    return this.refusedCount;
  }

  /** Called for each accepted TCP connection; closes it and returns false when over the cap. */
  accept(socket: net.Socket): boolean {
    if (this.pending >= this.maxPending) {
      this.refusedCount++;
      if (this.refusedCount === 1 || this.refusedCount % 1000 === 0) {
        this.log?.warn(
          { listener: this.name, pending: this.pending, refused: this.refusedCount },
          `closing new connections: ${this.maxPending} not yet authenticated are open (--max-pending-connections)`,
        );
      }
      socket.destroy();
      return false;
    }
    this.open++;
    socket.once('close', () => this.open--);
    return true;
  }

  /** The connection behind `socket` has authenticated: it no longer counts as pending. */
  authenticated(socket: EventEmitter & { destroyed?: boolean }): void {
    if (this.authenticatedSockets.has(socket) || socket.destroyed) return;
    this.authenticatedSockets.add(socket);
    this.authenticatedCount++;
    socket.once('close', () => this.unauthenticated(socket));
  }

  /** The connection must authenticate again (an HTTPS connection upgraded to MQTT over WebSocket). */
  unauthenticated(socket: object): void {
    if (this.authenticatedSockets.delete(socket)) this.authenticatedCount--;
  }
}

/** Counts and caps a listener's pending connections; on a TLS listener, closes failed or timed-out handshakes. */
export function guardListener(server: net.Server, name: string, limits: ListenerLimits, log?: Pick<Logger, 'warn'>): PendingConnections {
  const pending = new PendingConnections(name, limits.maxPendingConnections, log);
  // A tls.Server's own 'connection' listener (registered first) has already wrapped the socket;
  // destroying the TCP socket here ends that TLS socket too.
  server.on('connection', (socket: net.Socket) => pending.accept(socket));
  if (server instanceof tls.Server) {
    server.on('tlsClientError', (_error, socket) => socket.destroy());
  }
  return pending;
}
