import mqttPacket from 'mqtt-packet';
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { createSasToken } from '../../protocol/sas.js';
import { serverName } from './http-wire.js';
import type { Random } from './random.js';

/** A fuzz device: registered by the runner with a key it knows. */
export interface FuzzDevice {
  deviceId: string;
  key: string;
}

export interface MqttTarget {
  host: string;
  hostName: string;
  ca: string;
  tlsPort: number;
  plainPort: number;
  httpsPort: number;
}

export type MqttTransport = 'tcp' | 'tls' | 'ws';

export interface MqttCase {
  transport: MqttTransport;
  deviceId: string;
  /** what was sent, packet by packet, for the report */
  describe: string[];
  /** the bytes, in the chunks they are written in */
  chunks: Buffer[];
  /** why the hub must close this connection (a packet over the bound, a topic that is not UTF-8), if it must */
  mustClose?: string;
}

const FILTERS = [
  '$iothub/twin/res/#',
  '$iothub/twin/PATCH/properties/desired/#',
  '$iothub/methods/POST/#',
  'devices/{id}/messages/devicebound/#',
  '#',
  '+',
  '$iothub/#',
  'devices/{other}/messages/devicebound/#',
  '$SYS/#',
  '',
];

/**
 * A valid CONNECT for one device, then 0–8 IoT Hub packets (SUBSCRIBE, PUBLISH on every device
 * topic — telemetry with property bags, twin GET, reported PATCH with generated twin bodies,
 * method responses — PINGREQ, UNSUBSCRIBE, PUBACK, DISCONNECT), each built with mqtt-packet and
 * then, with some probability, mutated at the byte level: bits flipped, bytes cut, inserted or
 * repeated, the remaining length rewritten, invalid UTF-8 put into the topic. Starting from valid
 * packets keeps most cases past the parser, into authentication and the device router, where a
 * purely random byte stream would be refused at its first byte.
 */
export function mqttCase(random: Random, devices: readonly FuzzDevice[], target: MqttTarget): MqttCase {
  const device = random.pick(devices);
  const other = random.pick(devices).deviceId;
  const id = device.deviceId;
  const describe: string[] = [];
  const packets: Buffer[] = [];
  let mustClose: string | undefined;
  // True while every packet so far is well framed: only then does the hub surely read the next header.
  let framed = true;
  const add = (what: string, packet: Buffer): void => {
    if (packet.length === 0) return;
    if (random.chance(0.25)) {
      const [mutated, how] = mutate(random, packet);
      describe.push(`${what} (${how})`);
      packets.push(mutated);
      // The hub reads this header (all before it was well framed): it declares more than the bound.
      if (how === 'remaining length inflated' && framed) mustClose ??= `${what} declaring over 2 MB`;
      framed = false;
    } else {
      describe.push(what);
      packets.push(packet);
    }
  };

  const expiry = Math.floor(Date.now() / 1000) + (random.chance(0.05) ? -10 : 3600);
  const password = random.chance(0.05) ? random.text(20) : createSasToken(`${target.hostName}/devices/${id}`, device.key, expiry);
  add(
    'CONNECT',
    gen({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: random.chance(0.5),
      keepalive: random.pick([0, 5, 60, 180, 65535]),
      clientId: random.chance(0.05) ? random.text(10) : id,
      username: random.chance(0.05)
        ? random.text(30)
        : `${target.hostName}/${id}/?api-version=2021-04-12${random.chance(0.2) ? `&model-id=${random.text(12)}` : ''}`,
      password: Buffer.from(password),
      will: random.chance(0.1)
        ? { topic: `devices/${id}/messages/events/`, payload: Buffer.from(JSON.stringify(random.json())), qos: random.pick([0, 1] as const), retain: false }
        : undefined,
    }),
  );

  for (let n = random.int(0, 8); n > 0; n--) {
    const rid = random.chance(0.8) ? String(random.int(1, 99999)) : encodeURIComponent(random.text(8));
    const qos = random.pick([0, 0, 1, 1, 2] as const);
    const messageId = random.int(1, 65535);
    switch (random.int(0, 9)) {
      case 0: {
        const subscriptions = Array.from({ length: random.int(1, 3) }, () => ({
          topic: random.pick(FILTERS).replace('{id}', id).replace('{other}', other),
          qos: random.pick([0, 1, 2] as const),
        }));
        add(`SUBSCRIBE ${subscriptions.map((s) => `${s.topic}@${s.qos}`).join(',')}`, gen({ cmd: 'subscribe', messageId, subscriptions }));
        break;
      }
      case 1:
      case 2: {
        const bag = random.chance(0.5)
          ? ''
          : Array.from(
              { length: random.int(1, 4) },
              () => `${random.pick(['$.mid', '$.ct', '$.ce', '$.cid', 'k', random.text(5)])}=${encodeURIComponent(random.text(10))}`,
            ).join('&');
        const topic = `devices/${random.chance(0.9) ? id : other}/messages/events/${bag}`;
        const payload = random.chance(0.05) ? Buffer.alloc(random.int(200_000, 300_000), 0x61) : Buffer.from(JSON.stringify(random.json()));
        add(`PUBLISH telemetry qos${qos} ${payload.length} B`, gen({ cmd: 'publish', topic, payload, qos, messageId, retain: random.chance(0.1), dup: false }));
        break;
      }
      case 3:
        add(
          'PUBLISH twin GET',
          gen({
            cmd: 'publish',
            topic: `$iothub/twin/GET/?$rid=${rid}`,
            payload: Buffer.from(random.pick([' ', '', '{}'])),
            qos: random.pick([0, 1] as const),
            messageId,
            retain: false,
            dup: false,
          }),
        );
        break;
      case 4:
      case 5: {
        const body = random.chance(0.15) ? random.deep(random.int(3, 40)) : random.json();
        const text = random.chance(0.1) ? random.text(30) : JSON.stringify(body);
        add(
          `PUBLISH reported PATCH ${Buffer.byteLength(text)} B`,
          gen({
            cmd: 'publish',
            topic: `$iothub/twin/PATCH/properties/reported/?$rid=${rid}${random.chance(0.1) ? '&$version=3' : ''}`,
            payload: Buffer.from(text),
            qos: random.pick([0, 1] as const),
            messageId,
            retain: false,
            dup: false,
          }),
        );
        break;
      }
      case 6: {
        const status = random.pick(['200', '404', '0', '-1', '999999', 'abc', '']);
        add(
          `PUBLISH method response ${status}`,
          gen({
            cmd: 'publish',
            topic: `$iothub/methods/res/${status}/?$rid=${rid}`,
            payload: Buffer.from(JSON.stringify(random.json())),
            qos: 0,
            messageId,
            retain: false,
            dup: false,
          }),
        );
        break;
      }
      case 7: {
        const topic = random.pick([
          `$iothub/twin/PATCH/properties/desired/?$rid=${rid}`,
          `devices/${id}/messages/devicebound/x`,
          `devices/${id}/modules/m/messages/events/`,
          `$iothub/methods/POST/x/?$rid=1`,
          random.text(20) || 'x',
        ]);
        add(`PUBLISH ${topic.slice(0, 40)}`, gen({ cmd: 'publish', topic, payload: Buffer.from('{}'), qos: 0, messageId, retain: false, dup: false }));
        break;
      }
      case 8:
        if (random.chance(0.3)) {
          // A telemetry topic whose property bag is not UTF-8 (MQTT 3.1.1 §1.5.3: the hub closes).
          const bad = random.pick([Buffer.from([0xff, 0xfe]), Buffer.from([0x00]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80])]);
          const topic = Buffer.concat([Buffer.from(`devices/${id}/messages/events/k=`), bad]);
          const length = Buffer.alloc(2);
          length.writeUInt16BE(topic.length);
          const body = Buffer.concat([length, topic, Buffer.from('{}')]);
          describe.push(`PUBLISH telemetry, topic with bytes ${bad.toString('hex')}`);
          packets.push(Buffer.concat([Buffer.from([0x30, body.length]), body]));
          if (framed) mustClose ??= `a topic with bytes ${bad.toString('hex')}`;
        } else add('PINGREQ', gen({ cmd: 'pingreq' }));
        break;
      default: {
        const kind = random.int(0, 2);
        if (kind === 0)
          add(
            'UNSUBSCRIBE',
            gen({ cmd: 'unsubscribe', messageId, unsubscriptions: [random.pick(FILTERS).replace('{id}', id).replace('{other}', other) || 'x'] }),
          );
        else if (kind === 1) add('PUBACK', gen({ cmd: 'puback', messageId }));
        else add('DISCONNECT', gen({ cmd: 'disconnect' }));
      }
    }
  }

  // Written whole, split at random points, or byte by byte at the start.
  const stream = Buffer.concat(packets);
  const chunks: Buffer[] = [];
  if (random.chance(0.6) || stream.length > 100_000) chunks.push(stream);
  else {
    let at = 0;
    while (at < stream.length) {
      const size = random.chance(0.3) ? 1 : random.int(1, 512);
      chunks.push(stream.subarray(at, at + size));
      at += size;
    }
  }
  const transport: MqttTransport = random.chance(0.6) ? 'tcp' : random.chance(0.6) ? 'tls' : 'ws';
  return { transport, deviceId: id, describe, chunks, mustClose };
}

/** mqtt-packet refuses some generated fields (an empty filter); such a packet is left out. */
function gen(packet: Parameters<typeof mqttPacket.generate>[0]): Buffer {
  try {
    return mqttPacket.generate(packet);
  } catch {
    return Buffer.alloc(0);
  }
}

function mutate(random: Random, packet: Buffer): [Buffer, string] {
  const out = Buffer.from(packet);
  switch (random.int(0, 7)) {
    case 0: {
      const at = random.int(0, out.length - 1);
      out[at] ^= 1 << random.int(0, 7);
      return [out, `bit flipped at ${at}`];
    }
    case 1: {
      const at = random.int(0, out.length - 1);
      out[at] = random.int(0, 255);
      return [out, `byte replaced at ${at}`];
    }
    case 2: {
      const keep = random.int(0, out.length - 1);
      return [out.subarray(0, keep), `cut to ${keep} B`];
    }
    case 3: {
      const at = random.int(0, out.length);
      const extra = random.bytes(random.int(1, 8));
      return [Buffer.concat([out.subarray(0, at), extra, out.subarray(at)]), `${extra.length} B inserted at ${at}`];
    }
    case 4:
      // The remaining length made to claim far more than follows (up to 268 MB).
      return [Buffer.concat([out.subarray(0, 1), Buffer.from([0xff, 0xff, 0xff, random.int(0, 0x7f)]), out.subarray(2)]), 'remaining length inflated'];
    case 5: {
      // Invalid UTF-8 or U+0000 where the topic or client id starts (after a two-byte length).
      const at = Math.min(out.length, random.int(2, 14));
      const bad = random.pick([Buffer.from([0xff, 0xfe]), Buffer.from([0x00]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80])]);
      bad.copy(out, at);
      return [out, `invalid UTF-8 at ${at}`];
    }
    case 6:
      return [Buffer.concat([out, out]), 'sent twice'];
    default: {
      out[0] = (out[0] & 0xf0) | random.int(0, 15);
      return [out, 'header flags changed'];
    }
  }
}

/**
 * Sends one case and waits until the hub closes the connection or has been quiet for `quietMs`
 * after the last write; then closes its side. Resolves with how it ended, never rejects.
 */
export async function runMqttCase(
  target: MqttTarget,
  testCase: MqttCase,
  quietMs = testCase.mustClose ? 3000 : 150,
  maxMs = 5000,
): Promise<'closed by hub' | 'quiet' | 'connect failed'> {
  const channel = await open(target, testCase.transport).catch(() => undefined);
  if (!channel) return 'connect failed';
  return new Promise((resolve) => {
    let settled = false;
    let quiet: NodeJS.Timeout | undefined;
    const finish = (how: 'closed by hub' | 'quiet'): void => {
      if (settled) return;
      settled = true;
      clearTimeout(quiet);
      clearTimeout(cap);
      channel.close();
      resolve(how);
    };
    const cap = setTimeout(() => finish('quiet'), maxMs);
    const rearm = (): void => {
      clearTimeout(quiet);
      quiet = setTimeout(() => finish('quiet'), quietMs);
    };
    channel.onData(rearm);
    channel.onClose(() => finish('closed by hub'));
    (async () => {
      for (const chunk of testCase.chunks) {
        if (settled) return;
        channel.write(chunk);
        if (testCase.chunks.length > 1) await new Promise((r) => setImmediate(r));
      }
      rearm();
    })();
  });
}

interface Channel {
  write(bytes: Buffer): void;
  onData(listener: () => void): void;
  onClose(listener: () => void): void;
  close(): void;
}

function open(target: MqttTarget, transport: MqttTransport): Promise<Channel> {
  return new Promise((resolve, reject) => {
    if (transport === 'ws') {
      const ws = new WebSocket(`wss://${target.host}:${target.httpsPort}/$iothub/websocket`, 'mqtt', {
        ca: target.ca,
        servername: serverName(target.hostName),
      } as WebSocket.ClientOptions);
      ws.once('open', () =>
        resolve({
          write: (bytes) => ws.readyState === WebSocket.OPEN && ws.send(bytes),
          onData: (listener) => ws.on('message', listener),
          onClose: (listener) => ws.once('close', listener),
          close: () => ws.terminate(),
        }),
      );
      ws.once('error', reject);
      ws.on('error', () => undefined);
      return;
    }
    const socket =
      transport === 'tls'
        ? tls.connect({ host: target.host, port: target.tlsPort, servername: serverName(target.hostName), ca: target.ca })
        : net.connect({ host: target.host, port: target.plainPort });
    socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () =>
      resolve({
        write: (bytes) => !socket.destroyed && socket.write(bytes),
        onData: (listener) => socket.on('data', listener),
        onClose: (listener) => socket.once('close', listener),
        close: () => socket.destroy(),
      }),
    );
    socket.once('error', reject);
    socket.on('error', () => undefined);
  });
}
