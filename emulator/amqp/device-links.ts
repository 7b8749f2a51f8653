import type { Logger } from 'pino';
import rhea, { type Delivery, type EventContext, type Receiver, type Sender } from 'rhea';
import { parseHubPublish, type SubscriptionKind } from '../../protocol/topics.js';
import type { C2dSink, CloudToDeviceService } from '../c2d/index.js';
import type { DeviceChannel } from '../device-channel.js';
import { HubError } from '../errors.js';
import type { HubGate } from '../faults/hub-gate.js';
import type { MethodService } from '../methods/method-service.js';
import { isoTime } from '../time.js';
import type { TwinService } from '../twin/twin-service.js';
import { bodyBytes, deviceMessage, type AmqpMessage } from './c2d-codec.js';
import { acknowledgeNow, creditOf } from './c2d-service-routes.js';
import type { LinkRoutes } from './link-routes.js';
import { identityKeyOf, identityRoutes } from './module-links.js';
import type { AmqpPeer } from './peer.js';
import { SubscriptionWaiters } from '../subscription-waiters.js';

export interface DeviceLinkDependencies {
  c2d: CloudToDeviceService;
  methods: MethodService;
  twins: TwinService;
  hubName: string;
  log: Logger;
  /**
   * The AMQP connections holding an identity (and, for a device, its modules), links attached or
   * not: the hub's presence knows them from the put-token on (docs/protocol.md §12.3).
   */
  connectedPeers?(key: string): AmqpPeer[];
  /** twin reads raise no hub event (nothing changes), so they are counted here, as the MQTT face counts its own */
  countTwinRead?(ok: boolean): void;
  /** throttles and chaos rules for twin operations (docs/protocol.md §13); idle unless asked for */
  gate?: HubGate;
}

/** What one device has attached on its AMQP connection. */
interface DeviceLinks {
  peer: AmqpPeer;
  /** hub → device method requests; the device answers on its own sender (hub receiver) */
  methodsSender?: Sender;
  methodsReceiver?: Receiver;
  /** hub → device twin responses and desired notifications */
  twinSender?: Sender;
  twinReceiver?: Receiver;
  desiredSubscribed: boolean;
  c2dSink?: C2dSink;
  /** a module's input link (hub → module), which the hub holds open and never feeds */
  inputsSender?: Sender;
}

const uuidOf = (value: unknown): string | undefined => {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value.length === 16 ? rhea.uuid_to_string(value) : value.toString('utf8');
  return String(value);
};

/**
 * AMQP devices (azure-iot-device-amqp `Amqp`/`AmqpWs`): C2D on `/devices/{id}/messages/devicebound`,
 * direct methods and twin on their link pairs (docs/protocol.md §11.5). Implements the
 * services' DeviceChannel for devices connected over AMQP, so `MethodService` and `TwinService`
 * reach them exactly as they reach MQTT devices: the channel's MQTT topics name what to send, and
 * this class puts it on the device's AMQP links instead.
 */
export class AmqpDeviceLinks implements DeviceChannel {
  private readonly devices = new Map<string, DeviceLinks>();
  private readonly waiters = new SubscriptionWaiters((deviceId, kind) => this.isSubscribed(deviceId, kind));
  // Messages waiting for link credit, per sender.
  private readonly backlog = new WeakMap<Sender, AmqpMessage[]>();

  constructor(private readonly deps: DeviceLinkDependencies) {}

  register(routes: LinkRoutes): void {
    const { c2d, hubName } = this.deps;

    routes.sending('/devices/{deviceId}/messages/devicebound', { device: 'deviceId' }, (ctx) => {
      const { deviceId } = ctx.params;
      const sender = ctx.link;
      const links = this.linksOf(deviceId, ctx.peer);
      const locks = new Map<Delivery, string>();
      const sink: C2dSink = {
        credit: () => creditOf(sender),
        deliver: (delivery) => {
          // A 16-byte tag, as the hub's lock tokens are GUIDs.
          const tag = Buffer.from(delivery.lockToken.replace(/-/g, ''), 'hex');
          locks.set(sender.send(deviceMessage(delivery.message, hubName) as never, tag), delivery.lockToken);
        },
      };
      const settle = (action: (token: string) => boolean) => (context: EventContext) => {
        const token = locks.get(context.delivery!);
        if (token === undefined) return;
        locks.delete(context.delivery!);
        action(token);
        acknowledgeNow(sender);
      };
      // complete → accepted, reject → rejected, abandon → released (rhea reports modified as released too).
      sender.on(
        'accepted',
        settle((t) => c2d.complete(t)),
      );
      sender.on(
        'rejected',
        settle((t) => c2d.reject(t)),
      );
      sender.on(
        'released',
        settle((t) => c2d.abandon(t)),
      );
      sender.on('sendable', () => c2d.pump(deviceId));
      const gone = (): void => {
        locks.clear();
        if (links.c2dSink === sink) links.c2dSink = undefined;
        c2d.closeReceiver(deviceId, sink);
      };
      sender.on('sender_close', gone);
      ctx.peer.onClose(gone);
      links.c2dSink = sink;
      c2d.openReceiver(deviceId, sink);
      this.wake(deviceId);
    });

    // Method and twin link pairs, the same for devices and modules: `ctx.params.deviceId` is the
    // identity's connection key (`{deviceId}/{moduleId}` for a module, docs/protocol.md §12.3).
    const identities = identityRoutes(routes);
    identities.sending('/methods/devicebound', (ctx) => {
      const links = this.linksOf(ctx.params.deviceId, ctx.peer);
      this.attachHubSender(ctx.params.deviceId, links, 'methodsSender', ctx.link);
    });
    identities.receiving('/methods/devicebound', (ctx) => {
      const { deviceId } = ctx.params;
      const links = this.linksOf(deviceId, ctx.peer);
      this.attachDeviceSender(deviceId, links, 'methodsReceiver', ctx.link);
      ctx.link.on('message', (context: EventContext) => {
        const message = context.message!;
        const rid = uuidOf(message.correlation_id);
        const status = Number((message.application_properties as Record<string, unknown> | undefined)?.['IoThub-status']);
        context.delivery!.accept();
        if (rid === undefined || !Number.isInteger(status)) {
          this.deps.log.info({ deviceId, rid, status }, 'AMQP method response without a correlation-id or IoThub-status: dropped');
          return;
        }
        this.deps.methods.handleResponse(deviceId, rid, status, bodyBytes(message.body));
      });
    });

    identities.sending('/twin', (ctx) => {
      const links = this.linksOf(ctx.params.deviceId, ctx.peer);
      // The device asked for settled deliveries (snd-settle-mode settled) on the twin pair.
      (ctx.link as unknown as { local: { attach: { snd_settle_mode: number } } }).local.attach.snd_settle_mode = 1;
      this.attachHubSender(ctx.params.deviceId, links, 'twinSender', ctx.link);
    });
    identities.receiving('/twin', (ctx) => {
      const { deviceId } = ctx.params;
      const links = this.linksOf(deviceId, ctx.peer);
      this.attachDeviceSender(deviceId, links, 'twinReceiver', ctx.link);
      ctx.link.on('message', (context: EventContext) => {
        // Requests arrive pre-settled; an unsettled one is accepted so it does not hang.
        if (!context.delivery!.remote_settled) context.delivery!.accept();
        this.twinRequest(deviceId, links, context.message!);
      });
    });

    // A module's input messages (ModuleClient 'inputMessage'): a receiver on the same address as
    // its telemetry sender. Attached and held, never fed: IoT Hub itself routes nothing to module
    // inputs, IoT Edge's hub does (docs/protocol.md §12.3).
    routes.sending('/devices/{deviceId}/modules/{moduleId}/messages/events', { device: 'deviceId', module: 'moduleId' }, (ctx) => {
      const key = identityKeyOf(ctx.params);
      const links = this.linksOf(key, ctx.peer);
      links.inputsSender = ctx.link;
      ctx.onClose(() => {
        if (links.inputsSender === ctx.link) links.inputsSender = undefined;
      });
      this.wake(key);
    });
  }

  // DeviceChannel, for the devices connected over AMQP.

  isSubscribed(deviceId: string, kind: SubscriptionKind): boolean {
    const links = this.devices.get(deviceId);
    if (!links || links.peer.closed) return false;
    switch (kind) {
      case 'methods':
        return isOpen(links.methodsSender) && isOpen(links.methodsReceiver);
      case 'twinResponses':
        return isOpen(links.twinSender) && isOpen(links.twinReceiver);
      case 'desired':
        return links.desiredSubscribed && isOpen(links.twinSender);
      case 'c2d':
        return links.c2dSink !== undefined;
      case 'inputs':
        return isOpen(links.inputsSender);
      default:
        return false;
    }
  }

  whenSubscribed(deviceId: string, kind: SubscriptionKind, timeoutMs: number): Promise<boolean> {
    return this.waiters.wait(deviceId, kind, timeoutMs);
  }

  /** Puts what the services address as an MQTT topic on the device's AMQP link: method requests and desired patches. */
  send(deviceId: string, topic: string, payload: string | Buffer): boolean {
    const links = this.devices.get(deviceId);
    if (!links || links.peer.closed) return false;
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const what = parseHubPublish(topic);
    if (what?.kind === 'methodRequest') {
      if (!links.methodsSender || !this.isSubscribed(deviceId, 'methods')) return false;
      this.sendOn(links.methodsSender, {
        correlation_id: what.rid,
        application_properties: { 'IoThub-methodname': what.methodName },
        body: rhea.message.data_section(body),
      });
      return true;
    }
    if (what?.kind === 'desiredPatch') {
      if (!links.twinSender || !this.isSubscribed(deviceId, 'desired')) return false;
      // No correlation-id: that is how the SDK tells a notification from a response (amqp.md §6.5).
      const message: AmqpMessage = { body: rhea.message.data_section(body) };
      if (what.version !== undefined) message.message_annotations = { version: rhea.types.wrap_long(what.version) };
      this.sendOn(links.twinSender, message);
      return true;
    }
    return false;
  }

  /** Closes the identity's AMQP connection; a device's also closes its modules' (disabled or deleted). */
  disconnect(deviceId: string, reason: string): void {
    const peers = new Set(this.deps.connectedPeers?.(deviceId) ?? []);
    const own = this.devices.get(deviceId)?.peer;
    if (own) peers.add(own);
    for (const peer of peers) peer.close('amqp:connection:forced', `The connection was closed by the hub: ${reason}.`);
  }

  /** The AMQP connection currently holding this device, if any. */
  peerOf(deviceId: string): AmqpPeer | undefined {
    const links = this.devices.get(deviceId);
    return links && !links.peer.closed ? links.peer : undefined;
  }

  closeAll(): void {
    this.waiters.clear();
  }

  private linksOf(deviceId: string, peer: AmqpPeer): DeviceLinks {
    let links = this.devices.get(deviceId);
    if (links && links.peer === peer) return links;
    // A newer connection of the device takes its place; the old one is being closed by presence.
    links = { peer, desiredSubscribed: false };
    this.devices.set(deviceId, links);
    const current = links;
    peer.onClose(() => {
      if (this.devices.get(deviceId) === current) this.devices.delete(deviceId);
    });
    return links;
  }

  private attachHubSender(deviceId: string, links: DeviceLinks, slot: 'methodsSender' | 'twinSender', sender: Sender): void {
    links[slot] = sender;
    sender.on('sendable', () => this.flush(sender));
    sender.on('sender_close', () => {
      if (links[slot] === sender) links[slot] = undefined;
      if (slot === 'twinSender') links.desiredSubscribed = false;
    });
    this.wake(deviceId);
  }

  private attachDeviceSender(deviceId: string, links: DeviceLinks, slot: 'methodsReceiver' | 'twinReceiver', receiver: Receiver): void {
    links[slot] = receiver;
    receiver.on('receiver_close', () => {
      if (links[slot] === receiver) links[slot] = undefined;
    });
    this.wake(deviceId);
  }

  /** A twin request through the gate: answered now, late, or with the throttle's or a rule's error (status 429, …). */
  private twinRequest(deviceId: string, links: DeviceLinks, message: AmqpMessage): void {
    const gate = this.deps.gate;
    const metered = gate && !gate.idle ? twinOperationClass(message) : undefined;
    const decision = metered ? gate!.check(metered, () => gate!.faults.operationFault(metered, deviceId)) : undefined;
    if (!decision) return this.answerTwinRequest(deviceId, links, message);
    setTimeout(() => this.answerTwinRequest(deviceId, links, message, decision.error), decision.delayMs);
  }

  private answerTwinRequest(deviceId: string, links: DeviceLinks, message: AmqpMessage, refusal?: HubError): void {
    const annotations = (message.message_annotations ?? {}) as Record<string, unknown>;
    const operation = String(annotations.operation ?? '').toUpperCase();
    const resource = String(annotations.resource ?? '');
    const correlationId = message.correlation_id;
    let status: number;
    let body: Buffer | undefined;
    let version: number | undefined;
    try {
      if (refusal) throw refusal;
      if (operation === 'GET') {
        try {
          body = Buffer.from(JSON.stringify(this.deps.twins.getForDevice(deviceId)));
        } catch (error) {
          this.deps.countTwinRead?.(false);
          throw error;
        }
        this.deps.countTwinRead?.(true);
        status = 200;
      } else if (operation === 'PATCH' && resource === '/properties/reported') {
        version = this.deps.twins.patchReported(deviceId, parseJson(bodyBytes(message.body)));
        status = 204;
      } else if ((operation === 'PUT' || operation === 'DELETE') && resource === '/notifications/twin/properties/desired') {
        links.desiredSubscribed = operation === 'PUT';
        status = 200;
        if (operation === 'PUT') this.wake(deviceId);
      } else {
        throw new HubError('ArgumentInvalid', `Twin operation '${operation}' on '${resource}' is not supported.`);
      }
    } catch (error) {
      if (!(error instanceof HubError)) throw error;
      // The SDK JSON-parses an error body: always JSON (docs/protocol.md §11.5).
      status = error.status;
      body = Buffer.from(JSON.stringify({ errorCode: error.code, message: error.message, trackingId: '', timestampUtc: isoTime() }));
    }
    if (!links.twinSender || correlationId === undefined) return;
    const reply: AmqpMessage = {
      // The SDK looks its callback up by the correlation id as an object key: the same string back.
      correlation_id: correlationId,
      message_annotations:
        version === undefined ? { status: rhea.types.wrap_int(status) } : { status: rhea.types.wrap_int(status), version: rhea.types.wrap_long(version) },
    };
    if (body) reply.body = rhea.message.data_section(body);
    this.sendOn(links.twinSender, reply);
  }

  private sendOn(sender: Sender, message: AmqpMessage): void {
    const queue = this.backlog.get(sender);
    if (!queue && sender.sendable()) {
      sender.send(message as never);
      return;
    }
    if (queue) queue.push(message);
    else this.backlog.set(sender, [message]);
  }

  private flush(sender: Sender): void {
    const queue = this.backlog.get(sender);
    if (!queue) return;
    while (queue.length > 0 && sender.sendable()) sender.send(queue.shift() as never);
    if (queue.length === 0) this.backlog.delete(sender);
  }

  private wake(deviceId: string): void {
    this.waiters.wake(deviceId);
  }
}

/** Which throttle a twin request counts against: reads and reported patches (docs/protocol.md §6); notification toggles none. */
function twinOperationClass(message: AmqpMessage): 'twinRead' | 'twinUpdate' | undefined {
  const operation = String((message.message_annotations as Record<string, unknown> | undefined)?.operation ?? '').toUpperCase();
  return operation === 'GET' ? 'twinRead' : operation === 'PATCH' ? 'twinUpdate' : undefined;
}

function isOpen(link: Sender | Receiver | undefined): boolean {
  return link !== undefined && !link.is_closed();
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    throw new HubError('ArgumentInvalid', 'The reported properties patch is not valid JSON.');
  }
}
