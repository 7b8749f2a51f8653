import { Aedes } from 'aedes';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { createMqttTlsServer } from '../../emulator/mqtt/listeners.js';
import { defaultOptions } from '../../emulator/config.js';
import { loadOrCreateCredentials } from '../../emulator/tls/certificates.js';
import { type FloorProcess, listenAsFloor, startFloorProcess } from './floor-process.js';

/**
 * The raw-broker echo the job benchmark sets beside its figures: a bare aedes broker behind the
 * emulator's own TLS listener, in a process of its own (as the emulator is), with no
 * authentication, no hub logic and no storage. Devices are the same mqtt.js clients over the
 * same TLS; each subscribes to a topic of its own and echoes what it gets.
 */

const REQUEST = (id: string): string => `echo/${id}/req`;
const RESPONSE = (id: string): string => `echo/${id}/res`;

export type EchoBroker = FloorProcess;

export async function startEchoBroker(host: string, port: number, certDir: string): Promise<EchoBroker> {
  return startFloorProcess('the echo broker', [fileURLToPath(import.meta.url), host, String(port), certDir]);
}

/** Connects `ids` as echo devices; they answer every request on their own response topic. */
export async function connectEchoDevices(host: string, port: number, ca: string, ids: readonly string[], concurrency = 200): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const client = mqtt.connect(`mqtts://${host}:${port}`, { clientId: id, protocolVersion: 4, clean: true, reconnectPeriod: 0, keepalive: 300, ca });
        await new Promise<void>((resolve, reject) => {
          client.once('connect', () => resolve());
          client.once('error', reject);
        });
        client.on('message', (_topic, payload) => client.publish(RESPONSE(id), payload));
        await client.subscribeAsync(REQUEST(id));
        clients.push(client);
      }
    }),
  );
  return clients;
}

/**
 * One request to each device and its echo, at most `inFlight` outstanding (as the scheduler
 * dispatches method calls). Returns the seconds until the last echo arrived.
 */
export async function echoRound(host: string, port: number, ca: string, ids: readonly string[], inFlight: number): Promise<number> {
  const driver = mqtt.connect(`mqtts://${host}:${port}`, {
    clientId: `driver-${process.pid}-${Date.now()}`,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    ca,
  });
  await new Promise<void>((resolve, reject) => {
    driver.once('connect', () => resolve());
    driver.once('error', reject);
  });
  const payload = Buffer.from('{"by":"bench"}');
  await driver.subscribeAsync('echo/+/res');
  const started = performance.now();
  let next = 0;
  let received = 0;
  await new Promise<void>((resolve) => {
    const send = (): void => {
      const id = ids[next++];
      if (id !== undefined) driver.publish(REQUEST(id), payload);
    };
    driver.on('message', () => {
      received++;
      if (received === ids.length) resolve();
      else send();
    });
    for (let i = 0; i < Math.min(inFlight, ids.length); i++) send();
  });
  const seconds = (performance.now() - started) / 1000;
  await driver.endAsync(true);
  return seconds;
}

async function main(host: string, port: number, certDir: string): Promise<void> {
  const credentials = await loadOrCreateCredentials(certDir, [host], false);
  const broker = await Aedes.createBroker();
  // The hub's own listener and bounds, so the baseline pays what the hub pays per packet.
  const server = createMqttTlsServer(broker, credentials, defaultOptions);
  await listenAsFloor(host, [[server, port]], (done) => broker.close(done));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [host, port, certDir] = process.argv.slice(2);
  main(host!, Number(port), certDir!).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
