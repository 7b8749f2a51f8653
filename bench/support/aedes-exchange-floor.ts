import { Aedes, type Client, type PublishPacket } from 'aedes';
import tls from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadOrCreateCredentials } from '../../emulator/tls/certificates.js';
import { type FloorProcess, listenAsFloor, startFloorProcess } from './floor-process.js';
import type { ExchangeAnswers } from './tls-exchange-floor.js';

/**
 * aedes's share of a device's connection conversation: a bare aedes broker (its default matcher
 * and memory persistence, no authentication, no hub logic, no store) behind a Node TLS server with
 * the emulator's listener options, in a process of its own. It answers the twin GET and the
 * reported PATCH with the emulator's answer bytes (captured in the same run, as the exchange floor
 * does), written to the asking client alone as the hub writes its answers (`deliver0`). Between
 * the bare TLS exchange floor (tls-exchange-floor.ts) and the emulator, it splits what the
 * emulator costs above the floor into what the MQTT library costs and what the hub costs.
 */

export type AedesExchangeFloor = FloorProcess;

export async function startAedesExchangeFloor(host: string, port: number, certDir: string, answers: ExchangeAnswers): Promise<AedesExchangeFloor> {
  return startFloorProcess('the aedes exchange floor', [fileURLToPath(import.meta.url), host, String(port), certDir, JSON.stringify(answers)]);
}

/** The packet aedes writes for a QoS 0 answer on `topic`. */
function answer(topic: string, body: string): PublishPacket {
  return { cmd: 'publish', topic, payload: Buffer.from(body, 'utf8'), qos: 0, retain: false, dup: false };
}

async function main(host: string, port: number, certDir: string, answers: ExchangeAnswers): Promise<void> {
  const credentials = await loadOrCreateCredentials(certDir, [host], false);
  const get = answer(answers.getTopic, answers.getBody);
  const patch = answer(answers.patchTopic, '');
  // aedes's per-client write (not in its types; the hub's DeviceConnections.send uses it the same way).
  const deliver = (client: Client, packet: PublishPacket): void =>
    (client as unknown as { deliver0(packet: object, cb: () => void): void }).deliver0(packet, () => undefined);
  const broker = await Aedes.createBroker({
    authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void) {
      if (client && packet.topic.startsWith('$iothub/twin/GET/')) deliver(client, get);
      else if (client && packet.topic.startsWith('$iothub/twin/PATCH/properties/reported/')) deliver(client, patch);
      done(null);
    },
  });
  const server = tls.createServer({ cert: credentials.cert, key: credentials.key, minVersion: 'TLSv1.2' }, (socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  await listenAsFloor(host, [[server, port]], (done) => broker.close(done));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [host, port, certDir, answers] = process.argv.slice(2);
  main(host!, Number(port), certDir!, JSON.parse(answers!) as ExchangeAnswers).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
