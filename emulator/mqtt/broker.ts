import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { QoS } from 'mqtt-packet';
import type { Logger } from 'pino';
import { classifySubscription } from '../../protocol/topics.js';
import type { HubEvents } from '../events.js';
import { splitIdentityKey } from '../identity/module-record.js';
import type { RegistryService } from '../identity/registry-service.js';
import type { SessionStore } from '../store/session-store.js';
import { subscriptionsOf, type DeviceConnections } from './device-connections.js';
import { type DeviceRouter, ProtocolViolation } from './device-router.js';
import type { HubGate } from '../faults/hub-gate.js';
import { DeviceTopicEmitter } from './device-topic-emitter.js';
import { createSessionPersistence } from './session-persistence.js';
import { MQTT_CONNECT_TIMEOUT_MS, MQTT_HEARTBEAT_MS, MQTT_MAX_KEEPALIVE_SECONDS, MQTT_MAX_SUBSCRIPTIONS, TIMER_MAX_DELAY_MS } from '../limits.js';

interface DeviceClientState {
  /** the client id: a device id, or `{deviceId}/{moduleId}` for a module */
  deviceId: string;
  tokenExpiry: number;
  expiryTimer?: NodeJS.Timeout;
  modelId?: string;
}

/** aedes' default fan-out concurrency, which it would give the emitter it builds itself. */
const AEDES_CONCURRENCY = 100;

const stateKey = Symbol('iothub-emulator device state');
type HubClient = Client & { [stateKey]?: DeviceClientState; transport?: string };

const connackText: Record<number, string> = {
  1: 'Unacceptable protocol version',
  2: 'Identifier rejected',
  3: 'Server unavailable',
  4: 'Bad username or password',
  5: 'Not authorized',
};

function refusal(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * Parses `{host}/{deviceId}/?api-version=…&model-id=…` leniently (docs/protocol.md §1.2, §8.9): the `?` and
 * api-version are optional, and the host part is not compared (see identity/auth.ts). A module's
 * is `{host}/{deviceId}/{moduleId}/…`, naming its client id `{deviceId}/{moduleId}`.
 */
function parseUsername(username: string | undefined, clientId: string): { deviceId: string; modelId?: string } | undefined {
  if (!username) return undefined;
  const parts = username.split('/');
  if (parts.length < 2 || !parts[1]) return undefined;
  const idParts = clientId.includes('/') ? 2 : 1;
  if (parts.length < 1 + idParts) return undefined;
  const rest = parts.slice(1 + idParts).join('/');
  const query = rest.startsWith('?') ? rest.slice(1) : rest;
  // Most usernames carry only api-version: without `model-id` (or an escape that could spell it) there is none to read.
  const mayName = query.includes('model-id') || query.includes('%');
  const modelId = mayName ? (new URLSearchParams(query).get('model-id') ?? undefined) : undefined;
  return { deviceId: parts.slice(1, 1 + idParts).join('/'), modelId };
}

export interface BrokerDependencies {
  registry: RegistryService;
  router: DeviceRouter;
  connections: DeviceConnections;
  sessions: SessionStore;
  events: HubEvents;
  log: Logger;
  /** throttles and chaos rules for new connections (docs/protocol.md §6) */
  gate?: HubGate;
}

/** aedes, reduced to IoT Hub's device protocol: authentication, the allowed topics, per-device sessions. */
export async function createBroker(deps: BrokerDependencies): Promise<Aedes> {
  const { registry, router, connections, sessions, events, log, gate } = deps;

  const broker = await Aedes.createBroker({
    // IoT Hub's device filters kept out of the shared topic trie, and the session streams every
    // connection pays for skipped when they are empty (docs/scaling.md §3.3).
    mq: new DeviceTopicEmitter({ concurrency: AEDES_CONCURRENCY }),
    persistence: createSessionPersistence(),
    concurrency: AEDES_CONCURRENCY,
    heartbeatInterval: MQTT_HEARTBEAT_MS,
    connectTimeout: MQTT_CONNECT_TIMEOUT_MS,

    preConnect(_client, packet, callback) {
      if ((packet.keepalive ?? 0) > MQTT_MAX_KEEPALIVE_SECONDS) packet.keepalive = MQTT_MAX_KEEPALIVE_SECONDS;
      callback(null, true);
    },

    authenticate(client, username, password, done) {
      const hubClient = client as HubClient;
      const clientId = client.id;
      const user = parseUsername(username, clientId);
      if (!user || user.deviceId !== clientId) {
        log.info({ clientId, username }, 'connection refused: username does not name the client id');
        return done(refusal(4, 'Bad username or password'), false);
      }
      // A client id `{deviceId}/{moduleId}` is a module identity (docs/protocol.md §1.2).
      const record = registry.findIdentity(clientId);
      if (!record) {
        log.info({ deviceId: clientId }, 'connection refused: unknown device or module');
        return done(refusal(5, 'Not authorized'), false);
      }
      // EMULATOR CHOICE (docs/protocol.md §1.2): a disabled device (or a module of one) is refused with CONNACK 5.
      if (!registry.mayConnect(record)) {
        log.info({ deviceId: clientId }, 'connection refused: device is disabled');
        return done(refusal(5, 'Not authorized'), false);
      }
      const result = registry.deviceAuth.authenticate(record, password?.toString('utf8'));
      if (!result.ok) {
        log.info({ deviceId: clientId, reason: result.reason }, 'connection refused');
        return done(refusal(5, 'Not authorized'), false);
      }
      const accept = (): void => {
        hubClient[stateKey] = { deviceId: clientId, tokenExpiry: result.expiry, modelId: user.modelId };
        // aedes closes the older connection of the same client id (MQTT-3.1.4-2), as IoT Hub does.
        // Said at info (docs/protocol.md §16.4): two processes using one device id otherwise just keep dropping each other.
        if (connections.current(clientId)) {
          log.info(
            { deviceId: clientId },
            `connection of ${clientId} replaced by a new connection (if this repeats, two clients are using the same device id)`,
          );
        }
        done(null, true);
      };
      if (!gate || gate.idle) return accept();
      // Chaos rules and the tier's new-connection throttle (docs/protocol.md §6): a refusal is a
      // CONNACK the SDKs retry (3 Server unavailable, unless the rule chose another code).
      const code = gate.faults.active ? gate.faults.connectRefusal(clientId) : undefined;
      if (code !== undefined) {
        log.info({ deviceId: clientId, returnCode: code }, 'connection refused: a fault rule is in force');
        events.emit('faultApplied', { what: `connect refused with CONNACK ${code}`, operation: 'connect', deviceId: clientId });
        return done(refusal(code, connackText[code] ?? 'Refused'), false);
      }
      const decision = gate.check('connect', undefined);
      if (decision?.error) {
        log.info({ deviceId: clientId, error: decision.error.errorName }, 'connection refused: throttled');
        return done(refusal(3, 'Server unavailable'), false);
      }
      if (decision) setTimeout(accept, decision.delayMs);
      else accept();
    },

    authorizeSubscribe(client, subscription, callback) {
      const state = (client as HubClient)[stateKey];
      const kind = state && classifySubscription(state.deviceId, subscription.topic);
      if (!kind) {
        // EMULATOR CHOICE (docs/protocol.md §1.9): an undocumented filter closes the connection.
        log.info({ deviceId: state?.deviceId, topic: subscription.topic }, 'closing connection: subscription to a topic IoT Hub does not offer');
        return callback(new Error(`subscription to '${subscription.topic}' is not allowed`));
      }
      const existing = Object.keys(subscriptionsOf(client));
      if (!existing.includes(subscription.topic) && existing.length >= MQTT_MAX_SUBSCRIPTIONS) {
        log.info({ deviceId: state.deviceId }, 'closing connection: more than 5 subscriptions');
        return callback(new Error('too many subscriptions'));
      }
      // QoS 2 is granted as QoS 1 (docs/protocol.md §1.9). aedes builds its SUBACK from the requested QoS,
      // so mqtt/packet-guard.ts lowers it in the SUBSCRIBE packet before aedes reads it; this
      // keeps the delivery QoS right should a packet reach here another way.
      callback(null, { ...subscription, qos: Math.min(subscription.qos, 1) as QoS });
    },

    authorizePublish(client, packet, callback) {
      if (!client) return callback(null); // the broker's own $SYS traffic
      const state = (client as HubClient)[stateKey];
      try {
        if (!state) throw new ProtocolViolation('publish before authentication');
        if (packet.qos === 2) throw new ProtocolViolation('QoS 2 is not supported');
        const message = router.classify(state.deviceId, packet.topic);
        const retain = packet.retain;
        // Never stored as a retained message: IoT Hub has none.
        packet.retain = false;
        const record = registry.findIdentity(state.deviceId);
        if (record) registry.touch(record);
        // aedes publishes a client's Will through this same hook when the connection drops.
        const will = packet === (client as unknown as { will?: unknown }).will;
        const holdMs = router.handle(state.deviceId, message, packet.payload as Buffer, { retain, will });
        if (holdMs > 0) setTimeout(() => callback(null), holdMs);
        else callback(null);
      } catch (error) {
        if (error instanceof ProtocolViolation) {
          log.info({ deviceId: state?.deviceId, topic: packet.topic, reason: error.message }, 'closing connection: protocol violation');
          return callback(error);
        }
        log.error({ err: error, deviceId: state?.deviceId }, 'error while handling a device publish');
        callback(error as Error);
      }
    },
  });

  skipClientBookkeepingPublishes(broker);

  // Subscriptions of CleanSession=0 clients survive restarts: aedes restores them on reconnect
  // and answers sessionPresent=1, which the Node SDK relies on (docs/protocol.md §0.5).
  for (const [clientId, subscriptions] of sessions.all()) {
    await (broker as unknown as { persistence: { addSubscriptions(client: { id: string }, subs: object[]): Promise<unknown> } }).persistence.addSubscriptions(
      { id: clientId },
      subscriptions,
    );
  }

  broker.on('clientReady', (client: Client) => {
    const hubClient = client as HubClient;
    const state = hubClient[stateKey];
    if (!state) return;
    const record = registry.findIdentity(state.deviceId);
    if (!record || !registry.mayConnect(record)) {
      client.close();
      return;
    }
    if (client.clean) sessions.forget(client.id);
    connections.attach(state.deviceId, client);
    registry.setConnected(record, true, state.modelId);
    armExpiry(client, state);
    events.emit('deviceConnected', { ...splitIdentityKey(state.deviceId), transport: hubClient.transport ?? 'mqtt' });
  });

  broker.on('subscribe', (subscriptions, client) => {
    const state = (client as HubClient)[stateKey];
    if (!state) return;
    if (!client.clean)
      sessions.add(
        client.id,
        subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })),
      );
    connections.wake(state.deviceId);
  });

  broker.on('unsubscribe', (topics, client) => {
    if (!client.clean) sessions.removeTopics(client.id, topics);
  });

  broker.on('clientDisconnect', (client: Client) => onGone(client, 'disconnected'));
  broker.on('clientError', (client: Client, error: Error) => {
    log.debug({ clientId: client.id, err: error.message }, 'client error');
  });
  broker.on('keepaliveTimeout', (client: Client) => log.info({ clientId: client.id }, 'closing connection: keep-alive timed out'));

  // 'clientDisconnect' only fires for connected clients; a close from an error path still ends here.
  const onGone = (client: Client, reason: string): void => {
    const state = (client as HubClient)[stateKey];
    if (!state) return;
    if (state.expiryTimer) clearTimeout(state.expiryTimer);
    if (!connections.detach(state.deviceId, client)) return;
    const record = registry.findIdentity(state.deviceId);
    if (record) registry.setConnected(record, false);
    events.emit('deviceDisconnected', { ...splitIdentityKey(state.deviceId), reason });
  };
  broker.on('clientError', (client: Client) => onGone(client, 'error'));

  function armExpiry(client: Client, state: DeviceClientState): void {
    const remaining = state.tokenExpiry * 1000 - Date.now();
    state.expiryTimer = setTimeout(
      () => {
        if (state.tokenExpiry * 1000 > Date.now()) return armExpiry(client, state);
        // An expired token ends the session; the SDKs reconnect with a fresh one (docs/protocol.md §1.4).
        log.info({ deviceId: state.deviceId }, 'closing connection: SAS token expired');
        client.close();
      },
      Math.min(Math.max(remaining, 0), TIMER_MAX_DELAY_MS),
    ); // a longer-lived token is re-checked when this fires
    state.expiryTimer.unref();
  }

  return broker;
}

/** The `$SYS/{brokerId}/…` topics aedes publishes for every client connecting, subscribing, unsubscribing, disconnecting. */
const CLIENT_BOOKKEEPING = ['/new/clients', '/new/subscribes', '/new/unsubscribes', '/disconnect/clients'];

/**
 * aedes tells the topic tree of every connect, SUBSCRIBE, UNSUBSCRIBE and disconnect with a `$SYS`
 * publish (the SUBSCRIBE's with its filters `JSON.stringify`d), a broker-wide publish per
 * connection step (docs/scaling.md §3.3). Nothing can hear them here: devices may subscribe only
 * to IoT Hub's topics (authorizeSubscribe, docs/protocol.md §1.9), the hub's own 'publish'
 * listener counts device publishes only (operations/metrics.ts), and aedes's one listener
 * (`$SYS/+/new/clients`, closing a client id taken over on *another* broker of a cluster) ignores
 * its own broker's. So they are dropped before the publish pipeline; aedes's heartbeat and birth
 * (once per interval, not per client) still go through it.
 */
function skipClientBookkeepingPublishes(broker: Aedes): void {
  const prefix = `$SYS/${broker.id}`;
  const topics = new Set(CLIENT_BOOKKEEPING.map((suffix) => prefix + suffix));
  const publish = broker.publish.bind(broker);
  const published = (broker as unknown as { published(packet: unknown, client: unknown, done: (error?: Error) => void): void }).published;
  broker.publish = ((packet: { topic: string }, client: unknown, done?: (error?: Error) => void) => {
    if (typeof client === 'function' && topics.has(packet.topic)) return (client as () => void)();
    // A device's own publish (its topic passed router.classify in authorizePublish) reaches no
    // subscriber: the filters a device may hold (classifySubscription) are the hub-to-device
    // topics, which no device-to-hub topic falls under, and the hub subscribes to nothing itself;
    // nor is anything retained (RETAIN is cleared). aedes's publish steps (a Packet, retained
    // store, the offline-queue lookup for QoS 1, the topic tree) are skipped for it; its
    // `published` hook and 'publish' event (operations/metrics.ts counts twin reads there) stay.
    if (client && (client as HubClient)[stateKey] && typeof done === 'function') {
      published.call(broker, packet, client, done);
      broker.emit('publish', packet as never, client as Client);
      return;
    }
    return (publish as (...args: unknown[]) => void)(packet, client, done);
  }) as Aedes['publish'];
}
