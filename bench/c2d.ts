import iothub from 'azure-iothub';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import hdr from 'hdr-histogram-js';
import mqtt, { type MqttClient } from 'mqtt';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { createSasToken } from '../protocol/sas.js';
import { c2dFilter, parseHubPublish } from '../protocol/topics.js';
import { wellKnownPolicies } from '../emulator/identity/policies.js';
import { startEmulatorProcess } from './support/emulator-process.js';
import type { Bench, BenchRow } from './support/harness.js';
import { provisionDevices } from './support/provision.js';

const HOST = '127.0.0.203';
const ROUND_TRIPS = 1000;
const OFFLINE_DEVICES = 1000;
const PER_DEVICE = 10;
const SEND_IN_FLIGHT = 64;

const owner = wellKnownPolicies[0];
const hubConnectionString = `HostName=${HOST};SharedAccessKeyName=${owner.keyName};SharedAccessKey=${owner.primaryKey}`;

type ServiceMessage = InstanceType<typeof device.Message>;

export const bench: Bench = {
  name: 'c2d',
  description: 'cloud-to-device messages: azure-iothub Client.send → MQTT device → feedback, and a queued backlog draining on connect',
  async run() {
    const certDir = process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR!;
    const ca = readFileSync(path.join(certDir, 'ca.pem'), 'utf8');
    const emulator = await startEmulatorProcess(HOST, certDir);
    const token = createSasToken(HOST, owner.primaryKey, Math.floor(Date.now() / 1000) + 7200, owner.keyName);
    const rows: BenchRow[] = [];
    const service = iothub.Client.fromConnectionString(hubConnectionString);
    try {
      await service.open();
      const feedbackWaiters = new Map<string, () => void>();
      const receiver = ((await service.getFeedbackReceiver()) as unknown as { result: { on(e: 'message', l: (m: ServiceMessage) => void): void } }).result;
      receiver.on('message', (message) => {
        for (const record of JSON.parse(message.getData().toString()) as { originalMessageId: string }[]) feedbackWaiters.get(record.originalMessageId)?.();
      });
      const send = (deviceId: string, messageId: string, ack?: string): Promise<unknown> => {
        const message = new device.Message('{"command":"unlock"}');
        message.messageId = messageId;
        if (ack) message.ack = ack;
        return service.send(deviceId, message);
      };

      // Round trip: send with ack 'full' → the SDK device receives it (PUBACK) → Success feedback arrives.
      const [door] = await provisionDevices(HOST, token, ['bench-c2d-door']);
      // 25 devices take the send-only floor's 1,100 messages without reaching 50 queued each.
      const parked = await provisionDevices(
        HOST,
        token,
        Array.from({ length: 25 }, (_, i) => `bench-c2d-parked-${i}`),
      );
      const sdkDevice = device.Client.fromConnectionString(`HostName=${HOST};DeviceId=${door.deviceId};SharedAccessKey=${door.key}`, deviceMqtt.Mqtt);
      sdkDevice.on('message', () => {});
      await sdkDevice.open();
      await new Promise((r) => setTimeout(r, 300));
      let n = 0;
      const roundTrip = async (): Promise<void> => {
        const id = `rt-${n++}`;
        const fed = new Promise<void>((resolve) => feedbackWaiters.set(id, resolve));
        await send(door.deviceId, id, 'full');
        await fed;
        feedbackWaiters.delete(id);
      };
      const latency = await sequential(roundTrip);
      // Floor: a direct method to the same device — the same shape (back end → hub → device → hub →
      // back end, four loopback TLS crossings) over HTTPS and MQTT QoS 0, with no queue and no store.
      sdkDevice.onDeviceMethod('ping', (_req, res) => void res.send(200, null));
      await new Promise((r) => setTimeout(r, 300));
      const method = await sequential(() => service.invokeDeviceMethod(door.deviceId, { methodName: 'ping', payload: null, responseTimeoutInSeconds: 30 }));
      await sdkDevice.close();
      // The send hop alone (accepted and queued for a device that is not connected).
      let m = 0;
      const sendOnly = await sequential(() => send(parked[m % parked.length].deviceId, `p-${m++}`));
      rows.push({
        metric: "send → MQTT device → 'full' feedback p50",
        value: p(latency, 50),
        unit: 'ms',
        target: '≤ 10',
        baseline: p(method, 50),
        note: `p99 ${p(latency, 99).toFixed(2)} ms; baseline: invokeDeviceMethod to the same device p50 (p99 ${p(method, 99).toFixed(2)} ms); Client.send alone p50 ${p(sendOnly, 50).toFixed(2)} ms`,
      });

      // Backlog: 10 messages queued for each of 1,000 offline devices with persistent sessions.
      const ids = Array.from({ length: OFFLINE_DEVICES }, (_, i) => `bench-c2d-${String(i).padStart(5, '0')}`);
      const credentials = await provisionDevices(HOST, token, ids);
      const sessions = await connectC2dDevices(credentials, ca, () => {});
      await Promise.all(sessions.clients.map((c) => c.endAsync()));
      // Floor: the same 1,000 devices resuming their sessions with nothing queued.
      const floorStarted = performance.now();
      const empty = await connectC2dDevices(credentials, ca, () => {});
      const floorSeconds = (performance.now() - floorStarted) / 1000;
      await Promise.all(empty.clients.map((c) => c.endAsync()));
      const queueStarted = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: SEND_IN_FLIGHT }, async () => {
          while (next < OFFLINE_DEVICES * PER_DEVICE) {
            const i = next++;
            await send(ids[i % OFFLINE_DEVICES], `q-${i}`);
          }
        }),
      );
      const queueSeconds = (performance.now() - queueStarted) / 1000;

      const seen = new Set<string>();
      const lastAt = new Map<string, number>();
      let duplicates = 0;
      let allDelivered: () => void = () => {};
      const delivered = new Promise<void>((resolve) => (allDelivered = resolve));
      const connectStarted = performance.now();
      const fleet = await connectC2dDevices(credentials, ca, (deviceId, messageId) => {
        lastAt.set(deviceId, performance.now());
        if (seen.has(messageId)) duplicates++;
        seen.add(messageId);
        if (seen.size === OFFLINE_DEVICES * PER_DEVICE) allDelivered();
      });
      const connectedSeconds = (performance.now() - connectStarted) / 1000;
      await Promise.race([delivered, new Promise((r) => setTimeout(r, 60_000))]);
      const drainSeconds = (performance.now() - connectStarted) / 1000;
      await Promise.all(fleet.clients.map((c) => c.endAsync(true)));
      // Per device: from its CONNACK to the last of its queued messages.
      const afterConnect = [...fleet.connackAt].map(([id, at]) => (lastAt.get(id) ?? Number.POSITIVE_INFINITY) - at).sort((a, b) => a - b);
      const slowest = afterConnect.at(-1)! / 1000;
      const connectP50 = [...empty.connectMs].sort((a, b) => a - b)[Math.floor(empty.connectMs.length / 2)];
      rows.push(
        {
          metric: `each of ${OFFLINE_DEVICES} offline devices has its ${PER_DEVICE} queued messages after its CONNACK, slowest`,
          value: slowest,
          unit: 's',
          target: '≤ 5',
          baseline: connectP50 / 1000,
          note: `p50 ${(afterConnect[Math.floor(afterConnect.length / 2)] / 1000).toFixed(3)} s; ${seen.size} of ${OFFLINE_DEVICES * PER_DEVICE} delivered, ${duplicates} duplicates; baseline: one device's TLS + CONNECT → CONNACK p50 under the same load`,
        },
        {
          metric: `all ${OFFLINE_DEVICES * PER_DEVICE} delivered, from the first device starting to connect`,
          value: drainSeconds,
          unit: 's',
          baseline: floorSeconds,
          note: `baseline: the same devices resuming their sessions with nothing queued (the connect floor on this machine); all connected after ${connectedSeconds.toFixed(2)} s; queueing took ${queueSeconds.toFixed(2)} s (${Math.round((OFFLINE_DEVICES * PER_DEVICE) / queueSeconds)} sends/s at ${SEND_IN_FLIGHT} in flight)`,
        },
      );
    } finally {
      await service.close().catch(() => {});
      await emulator.stop();
    }
    return rows;
  },
};

/** Bare mqtt.js devices with a persistent session subscribed to their C2D topic (mqtt.js PUBACKs each delivery). */
interface Connected {
  clients: MqttClient[];
  /** per device: when its CONNACK arrived, and how long TLS + CONNECT → CONNACK took (ms) */
  connackAt: Map<string, number>;
  connectMs: number[];
}

async function connectC2dDevices(
  devices: { deviceId: string; key: string }[],
  ca: string,
  onMessage: (deviceId: string, messageId: string) => void,
): Promise<Connected> {
  const clients: MqttClient[] = [];
  const connackAt = new Map<string, number>();
  const connectMs: number[] = [];
  // One TLS context for all: building one per connection (what a `ca` option does) costs the load generator more than the hub's work.
  secureContext ??= tls.createSecureContext({ ca });
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < devices.length) {
        const { deviceId, key } = devices[next++];
        const started = performance.now();
        const client = mqtt.connect(`mqtts://${HOST}:8883`, {
          clientId: deviceId,
          username: `${HOST}/${deviceId}/?api-version=2021-04-12`,
          password: createSasToken(`${HOST}/devices/${deviceId}`, key, Math.floor(Date.now() / 1000) + 3600),
          protocolVersion: 4,
          clean: false,
          reconnectPeriod: 0,
          keepalive: 300,
          secureContext,
          servername: undefined,
        } as mqtt.IClientOptions);
        client.on('message', (topic) => {
          const message = parseHubPublish(topic);
          if (message?.kind === 'c2d') onMessage(deviceId, message.properties['$.mid'] ?? '');
        });
        const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
          client.once('connect', (packet) => resolve(packet as { sessionPresent: boolean }));
          client.once('error', reject);
        });
        connackAt.set(deviceId, performance.now());
        connectMs.push(performance.now() - started);
        // A restored session is subscribed already, as the SDK's persistent session is.
        if (!connack.sessionPresent) await client.subscribeAsync(c2dFilter(deviceId), { qos: 1 });
        clients.push(client);
      }
    }),
  );
  return { clients, connackAt, connectMs };
}

let secureContext: tls.SecureContext | undefined;

const p = (h: ReturnType<typeof hdr.build>, percentile: number): number => h.getValueAtPercentile(percentile) / 1000;

async function sequential(op: () => Promise<unknown>): Promise<ReturnType<typeof hdr.build>> {
  for (let i = 0; i < 100; i++) await op();
  const latency = hdr.build({ numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = performance.now();
    await op();
    latency.recordValue(Math.round((performance.now() - t0) * 1000));
  }
  return latency;
}
