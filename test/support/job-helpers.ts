import iothub from 'azure-iothub';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import mqtt, { type MqttClient } from 'mqtt';
import type { Hub } from '../../emulator/hub.js';
import { wellKnownPolicies } from '../../emulator/identity/policies.js';
import { hubConnectionString } from '../../protocol/connection-string.js';
import { createSasToken } from '../../protocol/sas.js';
import { METHODS_FILTER, methodResponseTopic, parseHubPublish } from '../../protocol/topics.js';
import { waitUntil } from './wait.js';

export const { Registry, JobClient } = iothub;
const { Client: DeviceClient } = device;
export type DeviceClientType = InstanceType<typeof DeviceClient>;

/** What the service-side helpers need of a hub: an in-process Hub, or an emulator process (processTarget). */
export type ServiceTarget = Pick<Hub, 'hostName' | 'httpsPort' | 'serviceToken' | 'connectionString'>;

/** The service side of an emulator running as a child process on `host` (port 443, well-known keys). */
export function processTarget(host: string): ServiceTarget {
  const policy = (name: string) => wellKnownPolicies.find((p) => p.keyName === name)!;
  return {
    hostName: host,
    httpsPort: 443,
    serviceToken: (name = 'iothubowner', validSeconds = 3600) =>
      createSasToken(host, policy(name).primaryKey, Math.ceil(Date.now() / 1000) + validSeconds, name),
    connectionString: (name = 'iothubowner') => hubConnectionString({ hostName: host, sharedAccessKeyName: name, sharedAccessKey: policy(name).primaryKey }),
  };
}

export interface JobDevice {
  id: string;
  client: DeviceClientType;
  /** payloads of the lockDoor calls it received */
  calls: unknown[];
  /** desired patches it received after connecting */
  desired: Record<string, unknown>[];
  close(): Promise<void>;
}

export interface DeviceBehaviour {
  /** ms before answering lockDoor; Infinity never answers */
  delayMs?: number;
  /** listen for desired-property patches too */
  desired?: boolean;
}

/** Registers devices in bulk (Registry.addDevices, 100 per call) and optionally tags them. */
export async function registerDevices(hub: Hub, ids: readonly string[], tags?: Record<string, unknown>): Promise<void> {
  const registry = Registry.fromConnectionString(hub.connectionString());
  for (let i = 0; i < ids.length; i += 100) {
    await registry.addDevices(ids.slice(i, i + 100).map((deviceId) => ({ deviceId })));
  }
  if (tags) await Promise.all(ids.map((id) => registry.updateTwin(id, { tags }, '*')));
}

/** An azure-iot-device client over MQTT that answers lockDoor, subscribed before it is returned. */
export async function connectDevice(hub: Hub, id: string, behaviour: DeviceBehaviour = {}, connectionString?: string): Promise<JobDevice> {
  const client = DeviceClient.fromConnectionString(connectionString ?? hub.deviceConnectionString(id), deviceMqtt.Mqtt);
  await client.open();
  const calls: unknown[] = [];
  const desired: Record<string, unknown>[] = [];
  const timers = new Set<NodeJS.Timeout>();
  client.onDeviceMethod('lockDoor', (request, response) => {
    calls.push(request.payload);
    const answer = (): void => void response.send(200, { locked: true, device: id }).catch(() => undefined);
    if (behaviour.delayMs === undefined) answer();
    else if (Number.isFinite(behaviour.delayMs)) timers.add(setTimeout(answer, behaviour.delayMs));
  });
  if (behaviour.desired) {
    const twin = await client.getTwin();
    twin.on('properties.desired', (patch: Record<string, unknown>) => desired.push(patch));
  }
  return {
    id,
    client,
    calls,
    desired,
    async close() {
      for (const t of timers) clearTimeout(t);
      await client.close().catch(() => undefined);
    },
  };
}

/** Waits until the hub sees the device subscribed (the SDK subscribes after open resolves). */
export async function whenSubscribed(hub: Hub, id: string, kind: 'methods' | 'desired', timeoutMs = 5000): Promise<void> {
  await waitUntil(() => hub.connections.isSubscribed(id, kind), timeoutMs, `${id} subscribed to ${kind}`);
}

/** Polls JobClient.getJob as the seed tutorials do, until the job reaches one of `statuses`. */
export async function pollJob(
  jobClient: InstanceType<typeof JobClient>,
  jobId: string,
  statuses: readonly string[] = ['completed', 'failed', 'cancelled'],
  timeoutMs = 10_000,
): Promise<any> {
  let last: any;
  await waitUntil(
    async () => {
      last = (await jobClient.getJob(jobId)).jobStatus;
      return statuses.includes(last.status);
    },
    timeoutMs,
    `job ${jobId} to reach ${statuses.join('/')} (last: ${last?.status})`,
  );
  return last;
}

export interface RestAnswer {
  status: number;
  headers: Headers;
  json: any;
}

/** A raw HTTPS call with a valid service SAS (policy selectable), for headers the SDKs hide. */
export async function call(
  hub: ServiceTarget,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  policy = 'iothubowner',
): Promise<RestAnswer> {
  const response = await fetch(`https://${hub.hostName}:${hub.httpsPort}${path}`, {
    method,
    headers: { authorization: hub.serviceToken(policy), 'content-type': 'application/json; charset=utf-8', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined };
}

/** Every page of a devices query through the Node SDK's own paging loop. */
export async function queryAll(hub: ServiceTarget, sql: string, pageSize?: number): Promise<{ items: any[]; pages: number }> {
  const query = Registry.fromConnectionString(hub.connectionString()).createQuery(sql, pageSize);
  const items: any[] = [];
  let pages = 0;
  while (query.hasMoreResults) {
    // Query.next() in promise form ignores the token it holds; pass it back explicitly.
    const page = await query.next(query.continuationToken as string);
    items.push(...(page.result as any[]));
    pages++;
    if (pages > 1000) throw new Error('the query never ended: x-ms-continuation on the last page?');
  }
  return { items, pages };
}

/**
 * A bare mqtt.js device that answers lockDoor at once, or never: subscribed (SUBACK received)
 * before it is returned, so it needs no view into the hub. For emulators in child processes.
 */
export async function rawLockDoorDevice(
  host: string,
  deviceId: string,
  key: string,
  answer: 'now' | 'never',
): Promise<{ client: MqttClient; calls: () => number }> {
  const client = mqtt.connect(`mqtts://${host}:8883`, {
    clientId: deviceId,
    username: `${host}/${deviceId}/?api-version=2021-04-12`,
    password: createSasToken(`${host}/devices/${deviceId}`, key, Math.floor(Date.now() / 1000) + 3600),
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  client.on('error', () => undefined);
  let calls = 0;
  client.on('message', (topic) => {
    const publish = parseHubPublish(topic);
    if (publish?.kind !== 'methodRequest') return;
    calls++;
    if (answer === 'now') client.publish(methodResponseTopic(200, publish.rid), JSON.stringify({ locked: true }));
  });
  await client.subscribeAsync(METHODS_FILTER, { qos: 0 });
  return { client, calls: () => calls };
}
