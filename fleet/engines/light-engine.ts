import { createSasToken } from '../../protocol/sas.js';
import {
  DESIRED_FILTER,
  METHODS_FILTER,
  TWIN_RESPONSE_FILTER,
  buildPropertyBag,
  identityPath,
  methodResponseTopic,
  parseHubPublish,
  reportedPatchTopic,
  telemetryTopic,
  twinGetTopic,
} from '../../protocol/topics.js';
import type { JsonObject } from '../devices/device-behaviour.js';
import type { HubAddress } from '../hub/hub-address.js';
import type { FleetIdentity } from '../hub/registration.js';
import { clientSecureContext } from '../hub/trust.js';
import { renewalMarginSeconds, USER_AGENT, type DeviceLink, type Engine, type EngineOptions, type LinkEvents, type TwinProperties } from './engine.js';
import { MqttWire, type WireEvents } from './mqtt-wire.js';

const API_VERSION = '2021-04-12';

/** The MQTT client id: the device id, or `{deviceId}/{moduleId}` for a module identity. */
function clientIdOf(identity: FleetIdentity): string {
  return identity.moduleId === undefined ? identity.deviceId : `${identity.deviceId}/${identity.moduleId}`;
}
const KEEPALIVE_SECONDS = 180; // the Node SDK's choice, under the Azure load balancer's idle limit
const CONNECT_TIMEOUT_MS = 30_000;
const TWIN_TIMEOUT_MS = 30_000;
const RENEWAL_RETRY_MS = 5_000;

/**
 * IoT Hub's MQTT device protocol (docs/protocol.md §1) on one lean MQTT connection per device (MqttWire): the
 * SDK's username, SAS password and CleanSession=0, the three subscriptions, twin GET / reported
 * PATCH correlated by $rid, method responses, and token renewal by reconnecting. No retry policy,
 * FSM or per-device context: tens of thousands fit in one process.
 */
export class LightEngine implements Engine {
  readonly name = 'light' as const;
  /** a TLS session to resume: a resumed handshake skips the key exchange and certificate checks */
  private tlsSession: Buffer | undefined;
  private readonly keepSession = (session: Buffer): void => {
    this.tlsSession = session;
  };

  constructor(
    private readonly hub: HubAddress,
    private readonly options: EngineOptions,
  ) {}

  async connect(identity: FleetIdentity, methods: readonly string[], events: LinkEvents): Promise<DeviceLink> {
    const link = new LightLink(this, identity, new Set(methods), events);
    await link.open();
    return link;
  }

  close(): void {
    this.tlsSession = undefined;
  }

  get tokenTtlSeconds(): number {
    return this.options.tokenTtlSeconds;
  }

  /** Opens one MQTT connection for the device with a fresh token; `connected` resolves with CONNACK's sessionPresent. */
  dial(identity: FleetIdentity, events: WireEvents): MqttWire {
    const { hostName } = this.hub;
    const expiry = Math.ceil(Date.now() / 1000) + this.options.tokenTtlSeconds;
    return new MqttWire(
      {
        host: hostName,
        port: this.hub.mqttPort,
        secureContext: clientSecureContext(this.options.ca),
        session: this.tlsSession,
        // A resumed handshake brings no new session; a full one (first, or after a hub restart) does.
        onSession: this.keepSession,
        // A module connects as `{deviceId}/{moduleId}` with a token for its own resource (docs/protocol.md §1.2).
        clientId: clientIdOf(identity),
        username: `${hostName}/${clientIdOf(identity)}/?api-version=${API_VERSION}&DeviceClientType=${encodeURIComponent(`${USER_AGENT} (light)`)}`,
        password: createSasToken(`${hostName}/devices/${identityPath(clientIdOf(identity))}`, identity.keys.primaryKey, expiry),
        keepaliveSeconds: KEEPALIVE_SECONDS,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
      },
      events,
    );
  }
}

interface PendingTwin {
  resolve(value: { status: number; body: Buffer }): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

class LightLink implements DeviceLink {
  private wire!: MqttWire;
  /** twin requests awaiting their response, by $rid; made on first use */
  private pending: Map<string, PendingTwin> | undefined;
  private nextRid = 1;
  private closing = false;
  private renewing = false;
  /** the current connection closed while a renewal was under way */
  private lostWhileRenewing: Error | undefined;
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly engine: LightEngine,
    private readonly identity: FleetIdentity,
    private readonly methods: ReadonlySet<string>,
    private readonly events: LinkEvents,
  ) {}

  async open(): Promise<void> {
    const wire = this.dial();
    this.wire = wire;
    try {
      // CleanSession=0: when the hub kept our session it kept the subscriptions too (docs/protocol.md §0.5).
      if (!(await wire.connected)) await this.subscribe(wire);
    } catch (error) {
      this.closing = true;
      wire.destroy();
      throw error;
    }
    this.scheduleRenewal();
  }

  private dial(): MqttWire {
    const wire: MqttWire = this.engine.dial(this.identity, {
      message: (topic, payload) => this.onMessage(wire, topic, payload),
      closed: (error) => this.onClosed(wire, error),
    });
    return wire;
  }

  private onClosed(wire: MqttWire, error: Error | undefined): void {
    // A connection that never became current (a failed dial) is reported by its `connected` promise.
    if (wire !== this.wire || this.closing) return;
    const reason = error ?? new Error('the hub closed the connection');
    if (this.renewing) {
      this.lostWhileRenewing = reason;
      return;
    }
    this.lose(reason);
  }

  private lose(error: Error): void {
    this.closing = true;
    clearTimeout(this.renewTimer);
    this.failPending(error);
    this.wire.destroy();
    this.events.lost(error);
  }

  private async subscribe(wire: MqttWire): Promise<void> {
    const filters = [METHODS_FILTER, TWIN_RESPONSE_FILTER, DESIRED_FILTER];
    const granted = await wire.subscribe(filters);
    const refused = granted.indexOf(128);
    if (refused >= 0) throw new Error(`the hub refused the subscription to ${filters[refused]}`);
  }

  /** Renews the token by connecting again before it expires; the hub then drops the old connection. */
  private scheduleRenewal(delayMs?: number): void {
    const ttl = this.engine.tokenTtlSeconds;
    const due = delayMs ?? (ttl - renewalMarginSeconds(ttl)) * 1000;
    this.renewTimer = setTimeout(() => void this.renew(), due);
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    if (this.closing) return;
    this.renewing = true;
    this.lostWhileRenewing = undefined;
    const wire = this.dial();
    let sessionPresent: boolean;
    try {
      sessionPresent = await wire.connected;
    } catch {
      this.renewing = false;
      wire.destroy();
      if (this.closing) return;
      // Without a new connection the old one serves until its token runs out; try again meanwhile.
      if (this.lostWhileRenewing) this.lose(this.lostWhileRenewing);
      else this.scheduleRenewal(RENEWAL_RETRY_MS);
      return;
    }
    this.renewing = false;
    const previous = this.wire;
    this.wire = wire;
    previous.destroy();
    if (this.closing) {
      wire.destroy();
      return;
    }
    try {
      if (!sessionPresent) await this.subscribe(wire);
    } catch (error) {
      this.lose(error as Error);
      return;
    }
    this.events.renewed();
    this.scheduleRenewal();
  }

  private onMessage(wire: MqttWire, topic: string, payload: Buffer): void {
    const arrivedAt = performance.now();
    const message = parseHubPublish(topic);
    if (!message) return;
    switch (message.kind) {
      case 'methodRequest': {
        if (!this.methods.has(message.methodName)) return;
        // Answer on the connection the request came in on, as the hub expects.
        const rid = message.rid;
        const respond = (status: number, body: unknown): void => {
          void wire.publish(methodResponseTopic(status, rid), body === undefined ? 'null' : JSON.stringify(body), 0).catch(() => {});
        };
        let request: unknown;
        try {
          request = payload.length ? JSON.parse(payload.toString('utf8')) : null;
        } catch {
          // What the Node device SDK answers to a body that is not JSON.
          respond(400, { message: 'Invalid request format' });
          return;
        }
        this.events.method({ name: message.methodName, payload: request, arrivedAt, respond });
        return;
      }
      case 'twinResponse': {
        const pending = this.pending?.get(message.rid);
        if (!pending) return;
        this.pending!.delete(message.rid);
        clearTimeout(pending.timer);
        pending.resolve({ status: message.status, body: payload });
        return;
      }
      case 'desiredPatch': {
        let patch: unknown;
        try {
          patch = JSON.parse(payload.toString('utf8'));
        } catch {
          return;
        }
        if (typeof patch === 'object' && patch !== null) this.events.desired(patch as JsonObject);
        return;
      }
      default:
        return;
    }
  }

  private twinRequest(topicFor: (rid: string) => string, body: string): Promise<{ status: number; body: Buffer }> {
    if (this.closing) return Promise.reject(new Error('the device is disconnected'));
    const rid = String(this.nextRid++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending?.delete(rid);
        reject(new Error(`no twin response within ${TWIN_TIMEOUT_MS / 1000}s`));
      }, TWIN_TIMEOUT_MS);
      this.pending ??= new Map();
      this.pending.set(rid, { resolve, reject, timer });
      this.wire.publish(topicFor(rid), body, 0).catch(() => {});
    });
  }

  async getTwin(): Promise<TwinProperties> {
    const { status, body } = await this.twinRequest(twinGetTopic, ' ');
    const twin = parseTwinBody(status, body);
    const desired = isObject(twin?.desired) ? twin.desired : {};
    const reported = isObject(twin?.reported) ? twin.reported : {};
    return { desired, reported };
  }

  async reportProperties(patch: JsonObject): Promise<void> {
    const { status, body } = await this.twinRequest(reportedPatchTopic, JSON.stringify(patch));
    parseTwinBody(status, body);
  }

  sendTelemetry(body: string, properties: Record<string, string>): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the device is disconnected'));
    return this.wire.publish(telemetryTopic(identityPath(clientIdOf(this.identity)), buildPropertyBag(properties)), body, 1);
  }

  close(): Promise<void> {
    if (this.closing) return Promise.resolve();
    this.closing = true;
    clearTimeout(this.renewTimer);
    this.failPending(new Error('the device is disconnecting'));
    return this.wire.end();
  }

  private failPending(error: Error): void {
    if (!this.pending) return;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending = undefined;
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Twin answers carry the outcome in the status, and in an `errorCode` body on failure (docs/protocol.md §1.7). */
function parseTwinBody(status: number, body: Buffer): JsonObject | undefined {
  const text = body.toString('utf8').trim();
  let parsed: unknown;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`the hub answered ${status} with a body that is not JSON`);
    }
  }
  if (status >= 300 || (isObject(parsed) && 'errorCode' in parsed)) {
    const message = isObject(parsed) && typeof parsed.message === 'string' ? parsed.message : text;
    throw new Error(`twin operation failed with ${status}${message ? `: ${message}` : ''}`);
  }
  return isObject(parsed) ? parsed : undefined;
}
