import mqttPacket, { type IConnackPacket, type IPublishPacket, type ISubackPacket, type Packet } from 'mqtt-packet';
import { isIP } from 'node:net';
import tls from 'node:tls';

export interface WireOptions {
  readonly host: string;
  readonly port: number;
  readonly secureContext: tls.SecureContext;
  /** a TLS session to resume */
  readonly session?: Buffer;
  /** called with the TLS session the hub hands out, when the caller wants one */
  readonly onSession?: (session: Buffer) => void;
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
  readonly keepaliveSeconds: number;
  readonly connectTimeoutMs: number;
}

export interface WireEvents {
  message(topic: string, payload: Buffer): void;
  /** the connection ended; `error` says why unless `end()` ended it */
  closed(error: Error | undefined): void;
}

interface Waiter {
  resolve(packet: Packet): void;
  reject(error: Error): void;
}

// What mqtt.js says for each CONNACK refusal, so messages read the same on both engines.
const CONNACK_ERRORS: Record<number, string> = {
  1: 'Unacceptable protocol version',
  2: 'Identifier rejected',
  3: 'Server unavailable',
  4: 'Bad username or password',
  5: 'Not authorized',
};

const PINGREQ = mqttPacket.generate({ cmd: 'pingreq' });
const DISCONNECT = mqttPacket.generate({ cmd: 'disconnect' });
const END_GRACE_MS = 2_000;

type ResumableSocket = tls.TLSSocket & { setSession?(session: Buffer): void };
const canSetSession = typeof (tls.TLSSocket.prototype as ResumableSocket).setSession === 'function';

/**
 * One device's MQTT 3.1.1 connection over TLS, written straight on the socket with mqtt-packet, the
 * codec mqtt.js and aedes share. mqtt.js's client (streams, stores, reconnect and retry machinery)
 * costs more memory and CPU per connection than TLS itself; a fleet device needs only CONNECT,
 * SUBSCRIBE, PUBLISH at QoS 0/1, keep-alive pings and DISCONNECT.
 */
export class MqttWire {
  private readonly socket: ResumableSocket;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private waiters: Map<number, Waiter> | undefined;
  private nextMessageId = 1;
  private sentSinceCheck = true;
  private pingOutstanding = false;
  private unansweredChecks = 0;
  private keepalive: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private error: Error | undefined;
  private ended = false;
  private closed = false;
  private connack: { resolve(sessionPresent: boolean): void; reject(error: Error): void } | undefined;
  /** resolves with CONNACK's sessionPresent, rejects when the hub refuses or the connection fails first */
  readonly connected: Promise<boolean>;

  constructor(
    private readonly options: WireOptions,
    private readonly events: WireEvents,
  ) {
    this.connected = new Promise((resolve, reject) => {
      this.connack = { resolve, reject };
    });
    // Settled on every path; a caller that never awaits must not see an unhandled rejection.
    this.connected.catch(() => {});
    // Set before the TCP connection completes, the session is decoded once; the `session` option
    // of tls.connect decodes it twice (setSession is not in Node's documented API: hence the fallback).
    const session = canSetSession ? undefined : options.session;
    // tls.connect sends no SNI by itself; the SDK (through mqtt.js) sends the host name, as IoT Hub expects.
    const servername = isIP(options.host) ? undefined : options.host;
    const socket = tls.connect({ host: options.host, port: options.port, servername, secureContext: options.secureContext, session }) as ResumableSocket;
    this.socket = socket;
    if (canSetSession && options.session) socket.setSession!(options.session);
    if (options.onSession) socket.once('session', options.onSession);
    socket.setNoDelay(true);
    this.connectTimer = setTimeout(() => this.destroy(new Error(`no CONNACK within ${options.connectTimeoutMs / 1000}s`)), options.connectTimeoutMs);
    socket.once('secureConnect', () => this.sendConnect());
    socket.on('data', (chunk: Buffer) => this.parser.parse(chunk));
    socket.on('error', (error: Error) => {
      this.error ??= error;
    });
    socket.once('close', () => this.onClose());
    this.parser.on('packet', (packet: Packet) => this.onPacket(packet));
    this.parser.on('error', (error: Error) => this.destroy(new Error(`the hub sent a malformed packet: ${error.message}`)));
  }

  subscribe(filters: readonly string[]): Promise<number[]> {
    const messageId = this.messageId();
    const waited = this.wait(messageId);
    this.write(mqttPacket.generate({ cmd: 'subscribe', messageId, subscriptions: filters.map((topic) => ({ topic, qos: 0 })) }));
    return waited.then((packet) => ((packet as ISubackPacket).granted as number[]).map(Number));
  }

  /** QoS 0 resolves once written; QoS 1 when the hub's PUBACK arrives. */
  publish(topic: string, payload: string | Buffer, qos: 0 | 1): Promise<void> {
    if (qos === 0) {
      this.write(mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false }));
      return this.closed ? Promise.reject(this.closedError()) : Promise.resolve();
    }
    const messageId = this.messageId();
    const waited = this.wait(messageId);
    this.write(mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId, retain: false, dup: false }));
    return waited.then(() => undefined);
  }

  /** A DISCONNECT first, so the hub sees a clean goodbye; never waits long for the hub to close. */
  end(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.ended = true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), END_GRACE_MS);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end(DISCONNECT);
    });
  }

  /** Drops the connection at once; `closed` reports `error`. */
  destroy(error?: Error): void {
    if (error) this.error ??= error;
    else this.ended = true;
    this.socket.destroy();
  }

  private sendConnect(): void {
    const { clientId, username, password, keepaliveSeconds } = this.options;
    this.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: false,
        clientId,
        username,
        password: Buffer.from(password),
        keepalive: keepaliveSeconds,
      }),
    );
  }

  private onPacket(packet: Packet): void {
    switch (packet.cmd) {
      case 'publish': {
        const { topic, payload, qos, messageId } = packet as IPublishPacket;
        if (qos === 1 && messageId !== undefined) this.write(mqttPacket.generate({ cmd: 'puback', messageId }));
        this.events.message(topic, typeof payload === 'string' ? Buffer.from(payload) : payload);
        return;
      }
      case 'puback':
      case 'suback': {
        const waiter = packet.messageId === undefined ? undefined : this.waiters?.get(packet.messageId);
        if (!waiter) return;
        this.waiters!.delete(packet.messageId!);
        waiter.resolve(packet);
        return;
      }
      case 'pingresp':
        this.pingOutstanding = false;
        return;
      case 'connack':
        this.onConnack(packet as IConnackPacket);
        return;
      default:
        return;
    }
  }

  private onConnack(packet: IConnackPacket): void {
    const connack = this.connack;
    if (!connack) return;
    this.connack = undefined;
    const code = packet.returnCode ?? 0;
    if (code !== 0) {
      const error = new Error(`Connection refused: ${CONNACK_ERRORS[code] ?? `return code ${code}`}`);
      this.destroy(error);
      connack.reject(error);
      return;
    }
    clearTimeout(this.connectTimer);
    this.startKeepalive();
    connack.resolve(packet.sessionPresent);
  }

  /**
   * MQTT wants a packet from the client at least every keep-alive period (the hub closes after
   * 1.5 of them): checking every half period and pinging after a quiet one keeps gaps under a
   * period. A ping unanswered for a whole period ends the connection.
   */
  private startKeepalive(): void {
    const { keepaliveSeconds } = this.options;
    if (keepaliveSeconds <= 0) return;
    this.keepalive = setInterval(
      () => {
        if (this.pingOutstanding && ++this.unansweredChecks >= 2) {
          this.destroy(new Error('the hub did not answer a keep-alive ping'));
          return;
        }
        if (this.sentSinceCheck) {
          this.sentSinceCheck = false;
          return;
        }
        if (this.pingOutstanding) return;
        this.pingOutstanding = true;
        this.unansweredChecks = 0;
        this.write(PINGREQ);
      },
      (keepaliveSeconds * 1000) / 2,
    );
    this.keepalive.unref();
  }

  private onClose(): void {
    this.closed = true;
    clearTimeout(this.connectTimer);
    clearInterval(this.keepalive);
    const error = this.ended && !this.error ? undefined : this.closedError();
    if (this.connack) {
      this.connack.reject(error ?? new Error('the connection closed before the hub accepted it'));
      this.connack = undefined;
    }
    if (this.waiters) {
      const failure = error ?? new Error('the device is disconnecting');
      for (const waiter of this.waiters.values()) waiter.reject(failure);
      this.waiters = undefined;
    }
    this.events.closed(error);
  }

  private closedError(): Error {
    return this.error ?? new Error('the hub closed the connection');
  }

  private write(packet: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    this.sentSinceCheck = true;
    this.socket.write(packet);
  }

  private wait(messageId: number): Promise<Packet> {
    if (this.closed) return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => {
      this.waiters ??= new Map();
      this.waiters.set(messageId, { resolve, reject });
    });
  }

  private messageId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = id === 0xffff ? 1 : id + 1;
    return id;
  }
}
