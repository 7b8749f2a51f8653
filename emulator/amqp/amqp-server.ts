import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import rhea, { type Connection, type EventContext, type Receiver, type Sender, type Session } from 'rhea';
import type { WebSocket } from 'ws';
import type { ClaimResult } from '../identity/amqp-claims.js';
import { moduleKey } from '../identity/module-record.js';
import { AMQP_IDLE_TIMEOUT_MS, AMQP_MAX_FRAME_SIZE } from '../limits.js';
import { guardListener, tlsHandshakeOptions, type ListenerLimits } from '../net/pending-connections.js';
import { registerCbs } from './cbs.js';
import type { ConnectAdmission } from './connect-gate.js';
import type { DevicePresence } from './device-presence.js';
import { LinkRoutes, type LinkAccess, type LinkContext } from './link-routes.js';
import { AmqpPeer, type AmqpTransport } from './peer.js';
import { PlainTokenMechanism, plainClaimOf } from './sasl.js';

export interface AmqpServerDependencies {
  verify(audience: string, token: string): ClaimResult;
  presence: DevicePresence;
  log: Logger;
  /** throttles and chaos rules at a device's connect (connect-gate.ts); absent: always admitted */
  admitDevice?(deviceId: string): ConnectAdmission;
}

// rhea's own WebSocket adapter (what container.websocket_accept uses), so the connection object stays ours.
const { wrap: wrapWebSocket } = createRequire(import.meta.url)('rhea/lib/ws.js') as { wrap(ws: WebSocket): { end(): void } };

const peerKey = Symbol('iothub-emulator amqp peer');
type HubConnection = Connection & { [peerKey]?: AmqpPeer };

/**
 * The AMQP listener (docs/protocol.md §10): one rhea container of its own (never rhea's
 * default one, which `@azure/event-hubs` in the same process uses), SASL ANONYMOUS + PLAIN +
 * none on one port, the `$cbs` node, and link dispatch through `routes`. Any error a client
 * causes ends at most its own connection.
 */
export class AmqpServer {
  readonly routes = new LinkRoutes();
  private readonly container = rhea.create_container({ id: 'iothub-emulator' });
  private readonly peers = new Set<AmqpPeer>();
  private readonly servers: net.Server[] = [];
  private readonly log: Logger;

  constructor(readonly deps: AmqpServerDependencies) {
    this.log = deps.log;
    const mechanisms = this.container.sasl_server_mechanisms as unknown as Record<string, () => unknown> & { enable_anonymous(): void };
    mechanisms.enable_anonymous();
    mechanisms.PLAIN = () => new PlainTokenMechanism((audience, token) => deps.verify(audience, token));
    const cbs = registerCbs(this.routes, deps);

    const c = this.container;
    c.on('connection_open', (context: EventContext) => {
      const peer = this.peerOf(context.connection);
      const claim = plainClaimOf(context.connection);
      if (!peer || !claim) return;
      // A device's SASL PLAIN token is its connect, as a first put-token is (connect-gate.ts).
      const admission = claim.kind === 'device' ? deps.admitDevice?.(claim.key) : undefined;
      if (admission?.kind === 'unauthorized') return peer.close('amqp:unauthorized-access', admission.description);
      if (admission?.kind === 'close') return peer.close(admission.condition, admission.description);
      if (admission?.kind === 'later') setTimeout(() => !peer.closed && cbs.grant(peer, claim), admission.delayMs);
      else cbs.grant(peer, claim);
    });
    c.on('sender_open', (context: EventContext) => this.openLink(context.sender!, 'sending'));
    c.on('receiver_open', (context: EventContext) => this.openLink(context.receiver!, 'receiving'));
    c.on('connection_close', (context: EventContext) => this.ended(context.connection, 'closed'));
    c.on('disconnected', (context: EventContext) =>
      this.ended(context.connection, context.error ? `lost: ${String((context.error as Error).message ?? context.error)}` : 'lost'),
    );
    // Without these, rhea throws link and connection errors at the process (docs/protocol.md §10).
    c.on('error', (error: unknown) => this.log.debug({ err: describe(error) }, 'AMQP error'));
    c.on('protocol_error', (error: unknown) => this.log.info({ err: describe(error) }, 'closing AMQP connection: protocol error'));
    c.on('connection_error', (context: EventContext) =>
      this.log.debug({ err: context.connection.error }, 'AMQP connection closed by the client with an error'),
    );
    c.on('session_error', (context: EventContext) => this.log.debug({ err: context.session?.error }, 'AMQP session ended with an error'));
    c.on('sender_error', (context: EventContext) => this.log.debug({ err: context.sender?.error }, 'AMQP link detached by the client with an error'));
    c.on('receiver_error', (context: EventContext) => this.log.debug({ err: context.receiver?.error }, 'AMQP link detached by the client with an error'));
  }

  /** AMQP over TLS (5671). */
  /**
   * AMQP over TLS, with the bounds every listener applies (docs/protocol.md §14.3): a handshake
   * deadline, and a cap on connections whose TLS handshake is not done (CBS then authenticates).
   */
  createTlsServer(credentials: { cert: string; key: string }, limits?: ListenerLimits, log?: Logger): tls.Server {
    const server = tls.createServer(
      { cert: credentials.cert, key: credentials.key, minVersion: 'TLSv1.2', ...(limits ? tlsHandshakeOptions(limits) : {}) },
      (socket) => this.accept(socket, 'amqp'),
    );
    if (limits) {
      const pending = guardListener(server, 'AMQP/TLS', limits, log);
      server.on('secureConnection', (socket) => pending.authenticated(socket));
    }
    server.on('tlsClientError', () => {
      // A client that does not trust our CA fails its handshake; nothing to do on our side.
    });
    this.servers.push(server);
    return server;
  }

  /** Plain AMQP (5672) for `UseDevelopmentEmulator=true` Event Hubs clients and tools. */
  createPlainServer(limits?: ListenerLimits, log?: Logger): net.Server {
    const server = net.createServer((socket) => this.accept(socket, 'amqp-tcp'));
    if (limits) {
      // Plain AMQP has no handshake to wait for; the cap still bounds idle sockets until SASL.
      const pending = guardListener(server, 'AMQP/TCP', limits, log);
      server.on('connection', (socket) => pending.authenticated(socket));
    }
    this.servers.push(server);
    return server;
  }

  /** AMQP over WebSocket (sub-protocol AMQPWSB10), from the HTTPS listener's upgrade handler. */
  acceptWebSocket(ws: WebSocket): void {
    const socket = Object.assign(wrapWebSocket(ws), { destroy: () => ws.terminate() });
    const connection = this.container.create_connection(this.connectionOptions() as never) as HubConnection;
    this.track(connection, 'amqp-ws').destroySocket = () => ws.terminate();
    // A socket the hub itself destroys (a fault, a timeout) ends the connection too: rhea only watches 'end' and errors.
    ws.on('close', () => this.ended(connection, 'lost: socket closed'));
    connection.accept(socket as never);
  }

  get connectionCount(): number {
    return this.peers.size;
  }

  /** Closes every AMQP connection (the listeners are closed by their owner). */
  closeAll(): void {
    for (const peer of this.peers) peer.close('amqp:connection:forced', 'The emulator is stopping.');
    for (const peer of this.peers) peer.destroySocket();
  }

  private connectionOptions(): Record<string, unknown> {
    return {
      container_id: 'iothub-emulator',
      // IoT Hub's value (docs/protocol.md §10): clients then send a heartbeat every 120 s.
      idle_time_out: AMQP_IDLE_TIMEOUT_MS,
      max_frame_size: AMQP_MAX_FRAME_SIZE,
      autoaccept: false,
      tcp_no_delay: true,
    };
  }

  private accept(socket: Duplex & { setNoDelay?(v: boolean): void; on(e: 'error', l: () => void): unknown }, transport: AmqpTransport): void {
    socket.on('error', () => {});
    const connection = this.container.create_connection(this.connectionOptions() as never) as HubConnection;
    this.track(connection, transport).destroySocket = () => (socket as unknown as { destroy(): void }).destroy();
    // A socket the hub itself destroys (a fault, a timeout) ends the connection too: rhea only watches 'end' and errors.
    socket.on('close' as 'error', () => this.ended(connection, 'lost: socket closed'));
    connection.accept(socket as never);
  }

  private track(connection: HubConnection, transport: AmqpTransport): AmqpPeer {
    tolerateLateFrames(connection, this.log);
    const peer = new AmqpPeer(connection, transport);
    // rhea only half-closes after a frame it cannot decode; a peer that keeps its side open
    // would hold the socket forever.
    const drop = (what: string) => (error: unknown) => {
      this.log.info({ peer: peer.id, err: describe(error) }, `closing AMQP connection: ${what}`);
      setTimeout(() => peer.destroySocket(), 100).unref();
    };
    connection.on('protocol_error', drop('protocol error'));
    // Frames rhea cannot decode surface as plain errors on the connection.
    connection.on('error', drop('undecodable input'));
    connection[peerKey] = peer;
    this.peers.add(peer);
    return peer;
  }

  private peerOf(connection: Connection): AmqpPeer {
    const hub = connection as HubConnection;
    return hub[peerKey] ?? this.track(hub, 'amqp');
  }

  private ended(connection: Connection, reason: string): void {
    const peer = (connection as HubConnection)[peerKey];
    if (!peer || peer.closed) return;
    this.peers.delete(peer);
    peer.markEnded(reason);
  }

  private openLink(link: Sender | Receiver, direction: 'sending' | 'receiving'): void {
    const attach = (link as unknown as { remote: { attach: { source?: { address?: string }; target?: { address?: string } } } }).remote.attach;
    // Links built from a remote attach have no terminus until set: echo the client's.
    if (attach.source) link.set_source(attach.source as never);
    if (attach.target) link.set_target(attach.target as never);
    const address = (direction === 'sending' ? attach.source?.address : attach.target?.address) ?? '';
    const peer = this.peerOf(link.connection);
    const reject = (condition: string, description: string): void => {
      this.log.info({ peer: peer.id, address, condition, description }, 'AMQP link refused');
      link.close({ condition, description });
    };
    try {
      const match = direction === 'sending' ? this.routes.matchSending(address) : this.routes.matchReceiving(address);
      if (!match) return reject('amqp:not-found', `The ${direction === 'sending' ? 'source' : 'target'} address '${address}' does not exist on this hub.`);
      const denied = this.denied(match.access, match.params, address, peer);
      if (denied) return reject('amqp:unauthorized-access', denied);
      const ctx: LinkContext<Sender | Receiver> = {
        link,
        address,
        params: match.params,
        peer,
        reject,
        onClose: (handler) => this.onLinkGone(link, direction, peer, handler),
      };
      peer.links.add(link);
      this.onLinkGone(link, direction, peer, () => peer.links.delete(link));
      (match.handler as (ctx: LinkContext<Sender | Receiver>) => void)(ctx);
    } catch (error) {
      this.log.error({ err: error, address }, 'error while opening an AMQP link');
      reject('amqp:internal-error', 'The emulator failed to open this link.');
    }
  }

  private readonly sessionClosers = new WeakMap<Session, Set<() => void>>();

  private onLinkGone(link: Sender | Receiver, direction: 'sending' | 'receiving', peer: AmqpPeer, handler: () => void): void {
    let done = false;
    let cancelPeerClose = (): void => {};
    const fire = (): void => {
      if (done) return;
      done = true;
      this.sessionClosers.get(link.session)?.delete(fire);
      cancelPeerClose();
      handler();
    };
    link.on(direction === 'sending' ? 'sender_close' : 'receiver_close', fire);
    let closers = this.sessionClosers.get(link.session);
    if (!closers) {
      const set = new Set<() => void>();
      closers = set;
      this.sessionClosers.set(link.session, set);
      link.session.on('session_close', () => {
        for (const f of [...set]) f();
      });
    }
    closers.add(fire);
    cancelPeerClose = peer.onClose(fire);
  }

  /** Why `peer` may not attach this link, or undefined when it may. */
  private denied(access: LinkAccess, params: Record<string, string>, address: string, peer: AmqpPeer): string | undefined {
    if (access === 'anyone') return undefined;
    if ('device' in access) {
      const deviceId = params[access.device];
      // A module's links need that module's own claim (docs/protocol.md §12.3).
      const moduleId = access.module === undefined ? undefined : params[access.module];
      if (peer.device(moduleId === undefined ? deviceId : moduleKey(deviceId, moduleId))) return undefined;
      const policy = peer.service('DeviceConnect');
      if (policy) return undefined;
      if (moduleId !== undefined) {
        return `This connection has no valid token for module '${moduleId}' of device '${deviceId}' (put one on $cbs for HOST/devices/${deviceId}/modules/${moduleId} first).`;
      }
      return `This connection has no valid token for device '${deviceId}' (put one on $cbs for HOST/devices/${deviceId} first).`;
    }
    if ('service' in access) {
      return peer.service(access.service)
        ? undefined
        : `This connection has no valid token with the ${access.service} permission (put one on $cbs for the hub first).`;
    }
    const path = address
      .replace(/^amqps?:\/\/[^/]*/i, '')
      .replace(/^\/+/, '')
      .toLowerCase();
    return peer.eventHub(path) ? undefined : `This connection has no valid Event Hubs token covering '${address}' (put one on $cbs first).`;
  }
}

/**
 * Event Hubs clients may still settle deliveries (or send flow) on a session they just ended;
 * rhea calls that a protocol error and drops the whole connection. Those late frames are
 * dropped instead, on this connection only (rhea's clients in the same process keep rhea's rules).
 */
function tolerateLateFrames(connection: Connection, log: Logger): void {
  const target = connection as unknown as Record<string, ((frame: { channel: number }) => void) | undefined> & { remote_channel_map: Record<number, unknown> };
  for (const name of ['on_disposition', 'on_flow', 'on_transfer', 'on_detach']) {
    const original = target[name];
    if (typeof original !== 'function') continue;
    target[name] = function (this: typeof target, frame: { channel: number }) {
      if (!this.remote_channel_map[frame.channel]) {
        log.debug({ frame: name.slice(3), channel: frame.channel }, 'AMQP frame for an ended session ignored');
        return;
      }
      original.call(this, frame);
    };
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${(error as { condition?: string }).condition ?? error.name}: ${error.message}`;
  return String(error);
}
