import tls from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadOrCreateCredentials } from '../../emulator/tls/certificates.js';
import { type FloorProcess, listenAsFloor, startFloorProcess } from './floor-process.js';

/**
 * The TLS and kernel cost of a device's connection conversation with nothing behind it: a bare
 * Node TLS server in a process of its own (as the emulator is) that reads the MQTT packets a
 * device sends — framing only, no MQTT library, no broker, no authentication, no store — and
 * answers each as it arrives with the bytes the emulator answers it with, precomputed (CONNACK,
 * SUBACK with the packet's id, the twin GET response, the reported PATCH response). Driven by the
 * same client code as the emulator's round (bench/support/mqtt-devices.ts `connectDevices`), so
 * the handshakes, TLS records and round trips are the same; what the emulator costs above it is
 * its own work.
 */

/** What the emulator answered a device's twin GET and reported PATCH with, captured in the same run. */
export interface ExchangeAnswers {
  /** the twin GET response: topic and body */
  getTopic: string;
  getBody: string;
  /** the reported PATCH response: topic (its body is empty) */
  patchTopic: string;
  /** the SUBACK's grants for the device's SUBSCRIBE, in order */
  grants: number[];
}

export type ExchangeFloor = FloorProcess;

export async function startExchangeFloor(host: string, port: number, certDir: string, answers: ExchangeAnswers): Promise<ExchangeFloor> {
  return startFloorProcess('the exchange floor', [fileURLToPath(import.meta.url), host, String(port), certDir, JSON.stringify(answers)]);
}

/** A QoS 0 PUBLISH packet, as the emulator writes it (no packet id). */
export function publishPacket(topic: string, body: string): Buffer {
  const t = Buffer.from(topic, 'utf8');
  const b = Buffer.from(body, 'utf8');
  const variable = 2 + t.length + b.length;
  return Buffer.concat([Buffer.from([0x30]), remainingLength(variable), Buffer.from([t.length >> 8, t.length & 0xff]), t, b]);
}

function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
}

const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const PINGRESP = Buffer.from([0xd0, 0x00]);

/** Splits the byte stream into MQTT packets (fixed header + remaining length) and answers each. */
function serve(socket: tls.TLSSocket, answers: ExchangeAnswers, get: Buffer, patch: Buffer): void {
  let pending: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    for (;;) {
      if (buf.length < 2) break;
      let length = 0;
      let multiplier = 1;
      let i = 1;
      let complete = false;
      for (; i < 5 && i < buf.length; i++) {
        length += (buf[i]! & 0x7f) * multiplier;
        multiplier *= 128;
        if ((buf[i]! & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete || buf.length < i + length) break;
      const type = buf[0]! >> 4;
      const body = buf.subarray(i, i + length);
      buf = buf.subarray(i + length);
      switch (type) {
        case 1: // CONNECT
          socket.write(CONNACK);
          break;
        case 8: {
          // SUBSCRIBE: the SUBACK carries its packet id
          const suback = Buffer.from([0x90, 2 + answers.grants.length, body[0]!, body[1]!, ...answers.grants]);
          socket.write(suback);
          break;
        }
        case 3: {
          // PUBLISH (QoS 0): $iothub/twin/GET/… or $iothub/twin/PATCH/…
          const topicLength = (body[0]! << 8) | body[1]!;
          const topic = body.toString('latin1', 2, 2 + topicLength);
          if (topic.startsWith('$iothub/twin/GET/')) socket.write(get);
          else if (topic.startsWith('$iothub/twin/PATCH/properties/reported/')) socket.write(patch);
          break;
        }
        case 12: // PINGREQ
          socket.write(PINGRESP);
          break;
        case 14: // DISCONNECT
          socket.end();
          return;
      }
    }
    if (buf.length > 0) pending = Buffer.from(buf);
  });
  socket.on('error', () => socket.destroy());
}

async function main(host: string, port: number, certDir: string, answers: ExchangeAnswers): Promise<void> {
  const credentials = await loadOrCreateCredentials(certDir, [host], false);
  const get = publishPacket(answers.getTopic, answers.getBody);
  const patch = publishPacket(answers.patchTopic, '');
  // The emulator's MQTT/TLS listener's options (emulator/mqtt/listeners.ts), without its guard.
  const server = tls.createServer({ cert: credentials.cert, key: credentials.key, minVersion: 'TLSv1.2' }, (socket) => {
    socket.setNoDelay(true);
    serve(socket, answers, get, patch);
  });
  await listenAsFloor(host, [[server, port]]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [host, port, certDir, answers] = process.argv.slice(2);
  main(host!, Number(port), certDir!, JSON.parse(answers!) as ExchangeAnswers).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
