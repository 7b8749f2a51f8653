import type { Connection, Receiver, Sender } from 'rhea';
import { resourceCovers } from '../../protocol/sas.js';
import type { AmqpClaim } from '../identity/amqp-claims.js';
import type { Permission } from '../identity/policies.js';

export type AmqpTransport = 'amqp' | 'amqp-ws' | 'amqp-tcp';

export type DeviceClaim = Extract<AmqpClaim, { kind: 'device' }>;
export type ServiceClaim = Extract<AmqpClaim, { kind: 'service' }>;
export type EventHubClaim = Extract<AmqpClaim, { kind: 'eventHub' }>;

let nextPeerId = 1;

/**
 * One AMQP connection and what it has proven through CBS put-tokens (or SASL PLAIN): the
 * authenticated identity a link handler is given. Claims are replaced when a client renews the
 * token for the same audience; a claim whose expiry has passed no longer authorizes attaches.
 */
export class AmqpPeer {
  readonly id = `amqp-${nextPeerId++}`;
  private readonly claims = new Map<string, AmqpClaim>();
  private readonly closeHandlers: ((reason: string) => void)[] = [];
  private ended = false;
  private closing = false;
  /** the links a route accepted on this connection, while attached (a device-requested fault detaches one: docs/protocol.md §13) */
  readonly links = new Set<Sender | Receiver>();
  /** drops the transport at once (set by the server that accepted it) */
  destroySocket: () => void = () => {};

  constructor(
    readonly connection: Connection,
    readonly transport: AmqpTransport,
  ) {}

  get closed(): boolean {
    return this.ended;
  }

  /** Records (or renews) a claim; returns true the first time this audience is seen on the connection. */
  grant(claim: AmqpClaim): boolean {
    const key = claim.audience.toLowerCase();
    const fresh = !this.claims.has(key);
    this.claims.set(key, claim);
    return fresh;
  }

  allClaims(): AmqpClaim[] {
    return [...this.claims.values()];
  }

  /**
   * The live claim for this identity, by connection key (a device id, or `{deviceId}/{moduleId}`):
   * its own token, or a policy token with DeviceConnect for exactly that audience. A device's
   * claim never covers its modules, nor a module's its device or siblings (docs/protocol.md §12.3).
   */
  device(key: string, nowSeconds = Date.now() / 1000): DeviceClaim | undefined {
    for (const claim of this.claims.values()) {
      if (claim.kind === 'device' && claim.key === key && claim.expiry >= nowSeconds) return claim;
    }
    return undefined;
  }

  /** Connection keys of the devices and modules this connection holds a claim for (live or lapsed). */
  deviceIds(): string[] {
    return [...new Set([...this.claims.values()].filter((c): c is DeviceClaim => c.kind === 'device').map((c) => c.key))];
  }

  /** A live IoT Hub policy claim with `right` (any hub-level audience covers the hub's service addresses). */
  service(right: Permission, nowSeconds = Date.now() / 1000): ServiceClaim | undefined {
    for (const claim of this.claims.values()) {
      if (claim.kind === 'service' && claim.expiry >= nowSeconds && claim.policy.rights.includes(right)) return claim;
    }
    return undefined;
  }

  /** A live Event Hubs claim whose audience path covers `path` (`<entity>/ConsumerGroups/…`, `<entity>/$management`). */
  eventHub(path: string, nowSeconds = Date.now() / 1000): EventHubClaim | undefined {
    for (const claim of this.claims.values()) {
      if (claim.kind === 'eventHub' && claim.expiry >= nowSeconds && resourceCovers(claim.path, path)) return claim;
    }
    return undefined;
  }

  /** Runs `handler` once when the connection ends (closed by either side, or the socket lost); returns the function that cancels it. */
  onClose(handler: (reason: string) => void): () => void {
    if (this.ended) {
      handler('closed');
      return () => {};
    }
    this.closeHandlers.push(handler);
    return () => {
      const i = this.closeHandlers.indexOf(handler);
      if (i >= 0) this.closeHandlers.splice(i, 1);
    };
  }

  /** Closes the connection with an AMQP error; the socket is dropped if the peer does not answer. */
  close(condition: string, description: string): void {
    if (this.ended) return;
    try {
      this.connection.close({ condition, description });
    } catch {
      // already gone
    }
    setTimeout(() => this.destroySocket(), 1000).unref();
  }

  /**
   * Closes the connection in order: every link detached first with `linkError`, then the
   * connection closed with `connectionError` (none: a clean close). The IoT SDKs answer a
   * connection error by detaching their own links and waiting up to 45 s for detach replies a
   * closed connection never sends; links the hub detached first are gone already, so the SDK goes
   * on at once. It reconnects by itself only when the first error it sees is one its retry policy
   * retries, which is why the links carry one (`amqp:link:detach-forced` is ServiceUnavailableError).
   * Used where the hub drops a device on purpose: faults, chaos rules, refused connects
   * (docs/protocol.md §13).
   */
  closeInOrder(linkError: { condition: string; description: string }, connectionError?: { condition: string; description: string }): void {
    if (this.ended || this.closing) return;
    this.closing = true;
    const open = [...this.links].filter((link) => !link.is_closed());
    const closeConnection = (): void => {
      if (this.ended) return;
      if (connectionError) return this.close(connectionError.condition, connectionError.description);
      try {
        this.connection.close();
      } catch {
        // already gone
      }
      setTimeout(() => this.destroySocket(), 1000).unref();
    };
    detachThen(open, linkError, closeConnection);
  }

  /** Called by the server when the connection ended; runs the close handlers once. */
  markEnded(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    for (const handler of this.closeHandlers.splice(0)) handler(reason);
  }
}

/**
 * Detaches `links` with `error`, then runs `then` once the client has answered every detach (or
 * after a second without an answer): the order the IoT SDKs need to recover at once (closeInOrder).
 */
export function detachThen(links: readonly (Sender | Receiver)[], error: { condition: string; description: string }, then: () => void): void {
  const open = links.filter((link) => !link.is_closed());
  if (open.length === 0) return then();
  let waiting = open.length;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    clearTimeout(fallback);
    then();
  };
  const fallback = setTimeout(finish, 1000);
  fallback.unref();
  const answered = (): void => {
    if (--waiting === 0) finish();
  };
  for (const link of open) {
    link.once(link.is_sender() ? 'sender_close' : 'receiver_close', answered);
    try {
      link.close(error as never);
    } catch {
      answered();
    }
  }
}
