import mqttPacket from 'mqtt-packet';
import net from 'node:net';
import tls from 'node:tls';
import { createSasToken } from '../../protocol/sas.js';
import type { Hub } from '../../emulator/hub.js';

/**
 * A socket to the hub on which a test writes bytes no MQTT client library would send (a header
 * declaring 268 MB, a topic that is not UTF-8) and watches what comes back and when it closes.
 */
export interface RawWire {
  readonly socket: net.Socket;
  /** every byte the hub sent */
  received(): Buffer;
  /** MQTT packets the hub sent, parsed */
  packets(): mqttPacket.Packet[];
  readonly closed: Promise<void>;
  isClosed(): boolean;
  write(bytes: Buffer | Uint8Array): void;
  end(): void;
}

export function wrap(socket: net.Socket, connected: Promise<void>): RawWire & { ready: Promise<void> } {
  const chunks: Buffer[] = [];
  const packets: mqttPacket.Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p) => packets.push(p));
  parser.on('error', () => undefined);
  let isClosed = false;
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    parser.parse(chunk);
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      resolve();
    }),
  );
  return {
    socket,
    ready: connected,
    received: () => Buffer.concat(chunks),
    packets: () => packets,
    closed,
    isClosed: () => isClosed,
    write: (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    },
    end: () => socket.destroy(),
  };
}

/** A TLS connection to the hub's MQTT port that has finished its handshake and sent nothing. */
export async function rawTls(hub: Hub, port = hub.mqttPort): Promise<RawWire> {
  const socket = tls.connect({ host: hub.options.host, port, servername: hub.hostName, ca: hub.ca });
  const wire = wrap(
    socket,
    new Promise((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    }),
  );
  await wire.ready;
  return wire;
}

/** A plain TCP connection that never starts TLS. */
export async function rawTcp(host: string, port: number): Promise<RawWire> {
  const socket = net.connect({ host, port });
  const wire = wrap(
    socket,
    new Promise((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    }),
  );
  await wire.ready;
  return wire;
}

export function connectPacket(hub: Hub, deviceId: string, overrides: Partial<mqttPacket.IConnectPacket> = {}): Buffer {
  const record = hub.registry.find(deviceId);
  const key = record?.authentication.symmetricKey.primaryKey ?? Buffer.alloc(32).toString('base64');
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: 60,
    clientId: deviceId,
    username: `${hub.hostName}/${deviceId}/?api-version=2021-04-12`,
    password: Buffer.from(createSasToken(`${hub.hostName}/devices/${deviceId}`, key, Math.floor(Date.now() / 1000) + 3600)),
    ...overrides,
  } as mqttPacket.IConnectPacket);
}

/** A raw TLS MQTT connection that has been accepted (CONNACK 0). */
export async function connectedWire(hub: Hub, deviceId: string): Promise<RawWire> {
  const wire = await rawTls(hub);
  wire.write(connectPacket(hub, deviceId));
  await until(() => wire.packets().some((p) => p.cmd === 'connack') || wire.isClosed(), 5000, 'CONNACK');
  const connack = wire.packets().find((p) => p.cmd === 'connack') as mqttPacket.IConnackPacket | undefined;
  if (connack?.returnCode !== 0) throw new Error(`not accepted: ${JSON.stringify(connack)}`);
  return wire;
}

/** MQTT's variable-length "remaining length" (1–4 bytes). */
export function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    bytes.push(digit);
  } while (n > 0);
  return Buffer.from(bytes);
}

/** A QoS 0 PUBLISH whose topic is the given raw bytes (which need not be UTF-8). */
export function publishWithTopicBytes(topic: Buffer, payload: Buffer = Buffer.from('{}')): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(topic.length);
  const body = Buffer.concat([length, topic, payload]);
  return Buffer.concat([Buffer.from([0x30]), remainingLength(body.length), body]);
}

export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves true if the wire closes within the time, false if it is still open. */
export async function closesWithin(wire: RawWire, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([wire.closed.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))]);
  clearTimeout(timer);
  return result;
}
