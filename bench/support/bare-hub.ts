import { Aedes, type AedesPublishPacket } from 'aedes';
import https from 'node:https';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { defaultOptions } from '../../emulator/config.js';
import { createMqttTlsServer } from '../../emulator/mqtt/listeners.js';
import { loadOrCreateCredentials } from '../../emulator/tls/certificates.js';
import { type FloorProcess, listenAsFloor, startFloorProcess } from './floor-process.js';

/**
 * The floor the method and twin benchmarks set beside the emulator: the same calls served by a
 * bare Node HTTPS server and a bare aedes broker in a process of their own (as the emulator is),
 * behind the same TLS, with no authentication, no store, no events, no validation — what it
 * costs at least to carry a call over these wires with these libraries.
 *
 * - `POST /twins/{id}/methods`: JSON.parse the body, publish the payload to the device's own
 *   topic, answer `{"status","payload"}` with the device's reply (JSON.parse'd).
 * - `GET /twins/{id}` / `PATCH /twins/{id}`: a twin document from a Map (seeded with `PUT`, the
 *   emulator's own document, so both sides serialise the same bytes); PATCH merges `tags` and
 *   `properties.desired` one level deep and bumps the version.
 * - A device's reported patch: published to `bare/{id}/reported/{rid}`, merged the same way,
 *   answered on `bare/{id}/twin/res/204/{rid}`.
 * Devices are bare mqtt.js clients on the `bare/{id}/…` topics (connectBareDevices).
 */

export type BareHub = FloorProcess;

/** Starts the floor as its own process (node flags from IOTHUB_EMULATOR_BENCH_FLOOR_NODE_ARGS, as every floor). */
export async function startBareHub(host: string, certDir: string): Promise<BareHub> {
  return startFloorProcess('the bare hub', [fileURLToPath(import.meta.url), host, certDir]);
}

/** mqtt.js devices of the floor: each answers its methods with 200 `{"locked":true}`, as the lean devices do. */
export async function connectBareDevices(host: string, ca: string, ids: readonly string[], concurrency = 50): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const client = mqtt.connect(`mqtts://${host}:8883`, { clientId: id, protocolVersion: 4, clean: true, reconnectPeriod: 0, keepalive: 300, ca });
        await new Promise<void>((resolve, reject) => {
          client.once('connect', () => resolve());
          client.once('error', reject);
        });
        const prefix = `bare/${id}/methods/`;
        client.on('message', (topic) => {
          if (!topic.startsWith(prefix)) return;
          const rid = topic.slice(topic.lastIndexOf('/') + 1);
          client.publish(`bare/${id}/res/200/${rid}`, '{"locked":true}');
        });
        await client.subscribeAsync(`${prefix}#`);
        await client.subscribeAsync(`bare/${id}/twin/res/#`);
        clients.push(client);
      }
    }),
  );
  return clients;
}

interface Twin {
  deviceId: string;
  version: number;
  tags: Record<string, unknown>;
  properties: { desired: Record<string, unknown>; reported: Record<string, unknown> };
}

async function main(host: string, certDir: string): Promise<void> {
  const credentials = await loadOrCreateCredentials(certDir, [host], false);
  const broker = await Aedes.createBroker();
  const pending = new Map<string, (status: number, payload: Buffer) => void>();
  const twins = new Map<string, Twin>();
  let nextRid = 1;

  const twinOf = (deviceId: string): Twin => {
    let twin = twins.get(deviceId);
    if (!twin) {
      twin = { deviceId, version: 1, tags: {}, properties: { desired: {}, reported: {} } };
      twins.set(deviceId, twin);
    }
    return twin;
  };
  const publish = (topic: string, payload: string): void => {
    broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false } as AedesPublishPacket, () => undefined);
  };

  // Device → floor: method answers and reported patches, through the broker's own subscription API.
  broker.subscribe(
    'bare/+/res/+/+',
    (packet, done) => {
      const parts = packet.topic.split('/');
      const resolve = pending.get(parts[4]!);
      if (resolve) {
        pending.delete(parts[4]!);
        resolve(Number(parts[3]), packet.payload as Buffer);
      }
      done();
    },
    () => undefined,
  );
  broker.subscribe(
    'bare/+/reported/+',
    (packet, done) => {
      const parts = packet.topic.split('/');
      const twin = twinOf(parts[1]!);
      Object.assign(twin.properties.reported, JSON.parse((packet.payload as Buffer).toString('utf8')));
      twin.version++;
      publish(`bare/${parts[1]}/twin/res/204/${parts[3]}`, '');
      done();
    },
    () => undefined,
  );

  const send = (res: import('node:http').ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = https.createServer({ cert: credentials.cert, key: credentials.key, minVersion: 'TLSv1.2' }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!.split('/');
      const deviceId = decodeURIComponent(path[2] ?? '');
      if (req.method === 'POST' && path[3] === 'methods') {
        const call = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { methodName: string; payload: unknown };
        const rid = String(nextRid++);
        pending.set(rid, (status, payload) => send(res, 200, { status, payload: payload.length ? JSON.parse(payload.toString('utf8')) : null }));
        publish(`bare/${deviceId}/methods/${call.methodName}/${rid}`, JSON.stringify(call.payload));
      } else if (req.method === 'PUT' && path.length === 3) {
        twins.set(deviceId, JSON.parse(Buffer.concat(chunks).toString('utf8')) as Twin);
        send(res, 200, twinOf(deviceId));
      } else if (req.method === 'GET' && path.length === 3) {
        send(res, 200, twinOf(deviceId));
      } else if (req.method === 'PATCH' && path.length === 3) {
        const patch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { tags?: object; properties?: { desired?: object } };
        const twin = twinOf(deviceId);
        if (patch.tags) Object.assign(twin.tags, patch.tags);
        if (patch.properties?.desired) Object.assign(twin.properties.desired, patch.properties.desired);
        twin.version++;
        send(res, 200, twin);
      } else if (req.url === '/health') {
        send(res, 200, { status: 'ok' });
      } else {
        send(res, 404, { Message: 'not served by the bare hub' });
      }
    });
  });
  // The hub's own listener and bounds, so the floor pays what the hub pays per packet.
  const mqttServer = createMqttTlsServer(broker, credentials, defaultOptions);
  await listenAsFloor(
    host,
    [
      [server, 443],
      [mqttServer, 8883],
    ],
    (done) => broker.close(done),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [host, certDir] = process.argv.slice(2);
  main(host!, certDir!).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
