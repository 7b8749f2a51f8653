import mqtt, { type MqttClient } from 'mqtt';
import { createSasToken } from '../../protocol/sas.js';
import type { Hub } from '../../emulator/hub.js';

/**
 * A bare mqtt.js client speaking IoT Hub's device protocol, for what the SDK will not do
 * (publish to another device's topic, QoS 2, odd subscriptions) and to watch the hub close it.
 */
export async function connectRaw(hub: Hub, deviceId: string, options: { password?: string; clean?: boolean; ws?: boolean } = {}): Promise<MqttClient> {
  const record = hub.registry.get(deviceId);
  const password =
    options.password ??
    createSasToken(`${hub.hostName}/devices/${deviceId}`, record.authentication.symmetricKey.primaryKey!, Math.floor(Date.now() / 1000) + 3600);
  const url = options.ws ? `wss://${hub.hostName}:${hub.httpsPort}/$iothub/websocket` : `mqtts://${hub.hostName}:${hub.mqttPort}`;
  return connected(hub, url, { clientId: deviceId, username: `${hub.hostName}/${deviceId}/?api-version=2021-04-12`, password, clean: options.clean ?? false });
}

/** The same as a module identity (client id `{deviceId}/{moduleId}`, its own SAS), on a clean session. */
export async function connectRawModule(hub: Hub, deviceId: string, moduleId: string): Promise<MqttClient> {
  const key = hub.registry.getModule(deviceId, moduleId).authentication.symmetricKey.primaryKey!;
  return connected(hub, `mqtts://${hub.hostName}:${hub.mqttPort}`, {
    clientId: `${deviceId}/${moduleId}`,
    username: `${hub.hostName}/${deviceId}/${moduleId}/?api-version=2021-04-12`,
    password: createSasToken(`${hub.hostName}/devices/${deviceId}/modules/${moduleId}`, key, Math.floor(Date.now() / 1000) + 3600),
    clean: true,
  });
}

/** Connects without reconnects and resolves at CONNACK; later errors are the test's to observe through 'close'. */
async function connected(hub: Hub, url: string, identity: { clientId: string; username: string; password: string; clean: boolean }): Promise<MqttClient> {
  const client = mqtt.connect(url, { ...identity, protocolVersion: 4, reconnectPeriod: 0, ca: hub.ca });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
  client.on('error', () => undefined);
  return client;
}

/**
 * Connects `deviceId` with a Will on its own telemetry topic (`{"gone":true}`, QoS 1) and drops the
 * socket without DISCONNECT, so the hub delivers the Will as telemetry (docs/protocol.md §1.9).
 */
export async function dropWithWill(hub: Hub, deviceId: string): Promise<MqttClient> {
  const key = hub.registry.get(deviceId).authentication.symmetricKey.primaryKey!;
  const client = mqtt.connect(`mqtts://${hub.hostName}:${hub.mqttPort}`, {
    clientId: deviceId,
    username: `${hub.hostName}/${deviceId}/?api-version=2021-04-12`,
    reconnectPeriod: 0,
    ca: hub.ca,
    password: createSasToken(`${hub.hostName}/devices/${deviceId}`, key, Math.floor(Date.now() / 1000) + 60),
    will: { topic: `devices/${deviceId}/messages/events/`, payload: Buffer.from('{"gone":true}'), qos: 1, retain: false },
  });
  await new Promise((resolve) => client.once('connect', resolve));
  (client.stream as unknown as { destroy(): void }).destroy(); // ungraceful: no DISCONNECT
  return client;
}

export function closed(client: MqttClient, timeoutMs = 3000): Promise<boolean> {
  if (!client.connected) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    client.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
