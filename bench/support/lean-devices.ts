import mqtt, { type MqttClient } from 'mqtt';
import { createSasToken } from '../../protocol/sas.js';
import { METHODS_FILTER, methodResponseTopic, parseHubPublish } from '../../protocol/topics.js';

export interface LeanDevice {
  deviceId: string;
  client: MqttClient;
}

/**
 * Bare mqtt.js devices that answer every direct method with 200 and a small payload: the
 * cheapest possible device side, so benchmarks measure the hub, not the device SDK.
 */
export async function connectLeanDevices(options: {
  host: string;
  hostName: string;
  devices: { deviceId: string; moduleId?: string; key: string }[];
  ca: string;
  concurrency?: number;
}): Promise<LeanDevice[]> {
  const connected: LeanDevice[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.devices.length) {
      const { deviceId, moduleId, key } = options.devices[next++];
      // A module identity connects as client `{deviceId}/{moduleId}` with a token for its own resource.
      const clientId = moduleId === undefined ? deviceId : `${deviceId}/${moduleId}`;
      const resource = moduleId === undefined ? `devices/${deviceId}` : `devices/${deviceId}/modules/${moduleId}`;
      const client = mqtt.connect(`mqtts://${options.host}:8883`, {
        clientId,
        username: `${options.hostName}/${clientId}/?api-version=2021-04-12`,
        password: createSasToken(`${options.hostName}/${resource}`, key, Math.floor(Date.now() / 1000) + 3600),
        protocolVersion: 4,
        clean: false,
        reconnectPeriod: 0,
        keepalive: 300,
        ca: options.ca,
      });
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      });
      client.on('message', (topic) => {
        const message = parseHubPublish(topic);
        if (message?.kind === 'methodRequest') client.publish(methodResponseTopic(200, message.rid), '{"locked":true}');
      });
      await client.subscribeAsync(METHODS_FILTER);
      connected.push({ deviceId: clientId, client });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 50 }, worker));
  return connected;
}

export async function disconnectAll(devices: readonly LeanDevice[]): Promise<void> {
  await Promise.all(devices.map((d) => d.client.endAsync(true).catch(() => undefined)));
}
