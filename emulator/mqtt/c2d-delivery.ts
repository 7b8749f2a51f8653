import type { Aedes, Client, PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { buildPropertyBag, c2dFilter } from '../../protocol/topics.js';
import type { C2dDelivery, C2dSink, CloudMessage, CloudToDeviceService } from '../c2d/index.js';
import { subscriptionsOf } from './device-connections.js';

const C2D_TOPIC = /^devices\/[^/]+\/messages\/devicebound\//;
const MAX_PACKET_ID = 65535;

type Persistence = {
  outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<void>;
  outgoingClearMessageId(client: { id: string }, packet: { messageId?: number }): Promise<unknown>;
};

/**
 * The C2D topic of a message with its property bag (docs/protocol.md §11): system properties as
 * `$.` keys, then `iothub-ack`, then the application properties, each percent-encoded (the Node
 * SDK splits the topic on `/` and reads the bag from the fifth segment).
 */
export function c2dTopic(message: CloudMessage): string {
  const bag: Record<string, string | undefined> = {
    '$.mid': message.messageId?.value,
    '$.to': `/devices/${message.deviceId}/messages/devicebound`,
    '$.exp': message.expiryTimeMs === undefined ? undefined : new Date(message.expiresMs).toISOString(),
    '$.cid': message.correlationId?.value,
    '$.uid': message.userId,
    '$.ct': message.contentType,
    '$.ce': message.contentEncoding,
    'iothub-ack': message.ack,
  };
  for (const [key, value] of Object.entries(message.properties)) if (!(key in bag)) bag[key] = value;
  return `devices/${message.deviceId}/messages/devicebound/${buildPropertyBag(bag)}`;
}

/** One device's C2D subscription on one MQTT connection: PUBACK completes a delivery. */
class MqttC2dSink implements C2dSink {
  /** packet id → lock token of the deliveries this connection has not acknowledged */
  readonly inFlight = new Map<number, string>();

  constructor(
    readonly client: Client,
    private readonly publish: (sink: MqttC2dSink, delivery: C2dDelivery) => void,
  ) {}

  credit(): number {
    // MQTT has no receive window; the queue's 50 bounds what is in flight.
    return this.client.closed ? 0 : Number.POSITIVE_INFINITY;
  }

  deliver(delivery: C2dDelivery): void {
    this.publish(this, delivery);
  }
}

/**
 * Delivers cloud-to-device messages to MQTT devices at QoS 1 through aedes, one connection at a
 * time, with the hub's queue as the only owner of redelivery (docs/protocol.md §11):
 * - a persistent-session packet is put in aedes' outgoing store before it is written (aedes closes
 *   the connection when a QoS 1 packet it is asked to write is not there);
 * - what is left in that store when the device comes back is dropped by `authorizeForward`, since
 *   the queue sends it again itself — both resending would deliver it twice;
 * - PUBACKs are seen where aedes clears its outgoing store, for clean and persistent sessions alike.
 */
export function attachC2dDelivery(broker: Aedes, c2d: CloudToDeviceService, log: Logger): void {
  const persistence = (broker as unknown as { persistence: Persistence }).persistence;
  const sinks = new WeakMap<Client, MqttC2dSink>();
  const nextPacketId = new Map<string, number>();
  let forwarding = false;

  const previousForward = broker.authorizeForward.bind(broker);
  broker.authorizeForward = (client, packet) => {
    // Only the delivery written right now passes; a C2D packet aedes replays from a stored session does not.
    if (C2D_TOPIC.test(packet.topic) && !forwarding) return null;
    return previousForward(client, packet);
  };

  const clearMessageId = persistence.outgoingClearMessageId.bind(persistence);
  persistence.outgoingClearMessageId = (client, packet) => {
    const sink = sinks.get(client as Client);
    const token = sink && packet.messageId !== undefined ? sink.inFlight.get(packet.messageId) : undefined;
    if (token !== undefined) {
      sink!.inFlight.delete(packet.messageId!);
      c2d.complete(token);
    }
    return clearMessageId(client, packet);
  };

  const allocatePacketId = (sink: MqttC2dSink): number => {
    // Ids continue across the device's connections, so a late PUBACK of an old one never completes a new delivery.
    let id = nextPacketId.get(sink.client.id) ?? 1;
    while (sink.inFlight.has(id)) id = id >= MAX_PACKET_ID ? 1 : id + 1;
    nextPacketId.set(sink.client.id, id >= MAX_PACKET_ID ? 1 : id + 1);
    return id;
  };

  const publish = (sink: MqttC2dSink, delivery: C2dDelivery): void => {
    const client = sink.client;
    const granted = (subscriptionsOf(client)[c2dFilter(client.id)] as { qos?: number } | undefined)?.qos ?? 1;
    const topic = c2dTopic(delivery.message);
    if (granted === 0) {
      // A QoS 0 subscription gets QoS 0 deliveries, complete once written (there is no PUBACK to wait for).
      const packet = { cmd: 'publish' as const, topic, payload: delivery.message.body, qos: 0 as const, retain: false, dup: false };
      forwarding = true;
      try {
        (client as unknown as { deliver0(p: object, cb: () => void): void }).deliver0(packet, () => c2d.complete(delivery.lockToken));
      } finally {
        forwarding = false;
      }
      return;
    }
    const messageId = allocatePacketId(sink);
    const b = broker as unknown as { id: string; counter: number };
    const packet = {
      cmd: 'publish',
      topic,
      payload: delivery.message.body,
      qos: 1,
      retain: false,
      dup: false,
      messageId,
      brokerId: b.id,
      brokerCounter: ++b.counter,
    } as PublishPacket & { messageId: number };
    sink.inFlight.set(messageId, delivery.lockToken);
    const write = (): void => {
      if (client.closed || sinks.get(client) !== sink) return;
      forwarding = true;
      try {
        (client as unknown as { deliverQoS(p: object, cb: () => void): void }).deliverQoS(packet, () => {});
      } finally {
        forwarding = false;
      }
    };
    if (client.clean) write();
    else
      persistence
        .outgoingEnqueue({ clientId: client.id }, packet)
        .then(write, (error: unknown) => log.warn({ err: error, deviceId: client.id }, 'could not store a C2D delivery in the MQTT session'));
  };

  const open = (client: Client): void => {
    if (client.closed || !(c2dFilter(client.id) in subscriptionsOf(client))) return;
    let sink = sinks.get(client);
    if (!sink) {
      sink = new MqttC2dSink(client, publish);
      sinks.set(client, sink);
    }
    c2d.openReceiver(client.id, sink);
  };

  const close = (client: Client): void => {
    const sink = sinks.get(client);
    if (!sink) return;
    sinks.delete(client);
    sink.inFlight.clear();
    c2d.closeReceiver(client.id, sink);
  };

  // A restored persistent session is subscribed already; a new one subscribes after CONNACK.
  broker.on('clientReady', (client: Client) => open(client));
  broker.on('subscribe', (subscriptions, client) => {
    if (client && subscriptions.some((s) => s.topic === c2dFilter(client.id))) open(client);
  });
  broker.on('unsubscribe', (topics, client) => {
    if (client && topics.includes(c2dFilter(client.id))) close(client);
  });
  broker.on('clientDisconnect', (client: Client) => close(client));
  broker.on('clientError', (client: Client) => close(client));
}
