import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { TLSSocket } from 'node:tls';
import { createSasToken } from '../../protocol/sas.js';
import {
  DESIRED_FILTER,
  METHODS_FILTER,
  TWIN_RESPONSE_FILTER,
  buildPropertyBag,
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

const API_VERSION = '2021-04-12';
const KEEPALIVE_SECONDS = 180; // the Node SDK's choice, under the Azure load balancer's idle limit
const CONNECT_TIMEOUT_MS = 30_000;
const TWIN_TIMEOUT_MS = 30_000;
const RENEWAL_RETRY_MS = 5_000;
const noop = (): void => {};

type ResumableSocket = TLSSocket & { setSession?(session: Buffer): void };
// Node decodes the `session` option twice (in TLSSocket._init and again in tls.connect); setting it
// on the socket before the handshake starts decodes it once. Fall back to the option without it.
const canSetSession = typeof (TLSSocket.prototype as ResumableSocket).setSession === 'function';

/**
 * IoT Hub's MQTT device protocol (spec §1) on a bare mqtt.js client per device: the SDK's username,
 * SAS password and CleanSession=0, the three subscriptions, twin GET / reported PATCH correlated by
 * $rid, method responses, and token renewal by reconnecting. No retry policy, FSM or per-device
 * context: tens of thousands fit in one process.
 */
export class LightEngine implements Engine {
  readonly name = 'light' as const;
  /** a TLS session to resume: a resumed handshake skips the key exchange and certificate checks */
  private tlsSession: Buffer | undefined;

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

  /** Opens one MQTT connection for the device with a fresh token; resolves with CONNACK's sessionPresent. */
  dial(identity: FleetIdentity): { client: MqttClient; connected: Promise<boolean> } {
    const { hostName } = this.hub;
    const expiry = Math.ceil(Date.now() / 1000) + this.options.tokenTtlSeconds;
    const options: IClientOptions & { secureContext: unknown; noDelay: boolean; session?: Buffer } = {
      protocol: 'mqtts',
      host: hostName,
      port: this.hub.mqttPort,
      protocolVersion: 4,
      clientId: identity.deviceId,
      username: `${hostName}/${identity.deviceId}/?api-version=${API_VERSION}&DeviceClientType=${encodeURIComponent(`${USER_AGENT} (light)`)}`,
      password: createSasToken(`${hostName}/devices/${identity.deviceId}`, identity.keys.primaryKey, expiry),
      clean: false,
      keepalive: KEEPALIVE_SECONDS,
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      resubscribe: false,
      queueQoSZero: false,
      log: noop,
      secureContext: clientSecureContext(this.options.ca),
      // Method responses leave at once instead of waiting on Nagle's algorithm for an ACK.
      noDelay: true,
      ...(canSetSession ? {} : { session: this.tlsSession }),
    };
    const client = mqtt.connect(options);
    const socket = client.stream as ResumableSocket | undefined;
    // The TCP connection is still opening: the handshake has not started.
    if (canSetSession && this.tlsSession) socket?.setSession?.(this.tlsSession);
    socket?.once('session', (session: Buffer) => {
      this.tlsSession = session;
    });
    const connected = new Promise<boolean>((resolve, reject) => {
      const fail = (error?: Error): void => {
        client.removeListener('connect', ok);
        reject(error ?? new Error('the connection closed before the hub accepted it'));
      };
      const ok = (connack: { sessionPresent: boolean }): void => {
        client.removeListener('error', fail);
        client.removeListener('close', fail);
        resolve(connack.sessionPresent);
      };
      client.once('connect', ok);
      client.once('error', fail);
      client.once('close', fail);
    });
    return { client, connected };
  }
}

interface PendingTwin {
  resolve(value: { status: number; body: Buffer }): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

class LightLink implements DeviceLink {
  private client!: MqttClient;
  private readonly pending = new Map<string, PendingTwin>();
  private nextRid = 1;
  private closing = false;
  private renewing = false;
  /** the current connection closed while a renewal was under way */
  private lostWhileRenewing: Error | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private lastError: Error | undefined;

  constructor(
    private readonly engine: LightEngine,
    private readonly identity: FleetIdentity,
    private readonly methods: ReadonlySet<string>,
    private readonly events: LinkEvents,
  ) {}

  async open(): Promise<void> {
    const { client, connected } = this.engine.dial(this.identity);
    this.client = client;
    this.listen(client);
    try {
      // CleanSession=0: when the hub kept our session it kept the subscriptions too (spec §0.5).
      if (!(await connected)) await this.subscribe(client);
    } catch (error) {
      this.closing = true;
      client.end(true);
      throw error;
    }
    this.scheduleRenewal();
  }

  private listen(client: MqttClient): void {
    client.on('message', (topic: string, payload: Buffer) => this.onMessage(client, topic, payload));
    client.on('error', (error: Error) => {
      this.lastError = error;
    });
    client.on('close', () => this.onClosed(client));
  }

  private onClosed(client: MqttClient): void {
    // A connection that never became current (a failed dial) is reported by its dial promise.
    if (client !== this.client || this.closing) return;
    const error = this.lastError ?? new Error('the hub closed the connection');
    if (this.renewing) {
      this.lostWhileRenewing = error;
      return;
    }
    this.lose(error);
  }

  private lose(error: Error): void {
    this.closing = true;
    clearTimeout(this.renewTimer);
    this.failPending(error);
    this.client.end(true);
    this.events.lost(error);
  }

  private subscribe(client: MqttClient): Promise<void> {
    return new Promise((resolve, reject) => {
      client.subscribe([METHODS_FILTER, TWIN_RESPONSE_FILTER, DESIRED_FILTER], { qos: 0 }, (error, granted) => {
        if (error) return reject(error);
        const refused = granted?.find((g) => g.qos === 128);
        if (refused) return reject(new Error(`the hub refused the subscription to ${refused.topic}`));
        resolve();
      });
    });
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
    const { client, connected } = this.engine.dial(this.identity);
    this.listen(client);
    let sessionPresent: boolean;
    try {
      sessionPresent = await connected;
    } catch {
      this.renewing = false;
      client.end(true);
      if (this.closing) return;
      // Without a new connection the old one serves until its token runs out; try again meanwhile.
      if (this.lostWhileRenewing) this.lose(this.lostWhileRenewing);
      else this.scheduleRenewal(RENEWAL_RETRY_MS);
      return;
    }
    this.renewing = false;
    const previous = this.client;
    this.client = client;
    previous.end(true);
    if (this.closing) {
      client.end(true);
      return;
    }
    try {
      if (!sessionPresent) await this.subscribe(client);
    } catch (error) {
      this.lose(error as Error);
      return;
    }
    this.events.renewed();
    this.scheduleRenewal();
  }

  private onMessage(client: MqttClient, topic: string, payload: Buffer): void {
    const arrivedAt = performance.now();
    const message = parseHubPublish(topic);
    if (!message) return;
    switch (message.kind) {
      case 'methodRequest': {
        if (!this.methods.has(message.methodName)) return;
        // Answer on the connection the request came in on, as the hub expects.
        const rid = message.rid;
        const respond = (status: number, body: unknown): void => {
          client.publish(methodResponseTopic(status, rid), body === undefined ? 'null' : JSON.stringify(body), { qos: 0 });
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
        const pending = this.pending.get(message.rid);
        if (!pending) return;
        this.pending.delete(message.rid);
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
        this.pending.delete(rid);
        reject(new Error(`no twin response within ${TWIN_TIMEOUT_MS / 1000}s`));
      }, TWIN_TIMEOUT_MS);
      this.pending.set(rid, { resolve, reject, timer });
      this.client.publish(topicFor(rid), body, { qos: 0 });
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
    return new Promise((resolve, reject) => {
      this.client.publish(telemetryTopic(this.identity.deviceId, buildPropertyBag(properties)), body, { qos: 1 }, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): Promise<void> {
    if (this.closing) return Promise.resolve();
    this.closing = true;
    clearTimeout(this.renewTimer);
    this.failPending(new Error('the device is disconnecting'));
    const client = this.client;
    return new Promise((resolve) => {
      // A DISCONNECT first, so the hub sees a clean goodbye; never wait long for it.
      const timer = setTimeout(() => client.end(true, {}, () => resolve()), 2_000);
      client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private failPending(error: Error): void {
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Twin answers carry the outcome in the status, and in an `errorCode` body on failure (spec §1.7). */
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
