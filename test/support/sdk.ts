import iothub from 'azure-iothub';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import type { Hub } from '../../emulator/hub.js';

export const { Registry, Client: ServiceClient } = iothub;
export const { Client: DeviceClient } = device;
export const transports = { Mqtt: deviceMqtt.Mqtt, MqttWs: deviceMqtt.MqttWs } as const;
export type TransportName = keyof typeof transports;

/** The service twin as JSON: the SDK's Twin type omits root fields such as version and connectionState. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TwinJson = Record<string, any>;

export function registryFor(hub: Hub): InstanceType<typeof Registry> {
  return Registry.fromConnectionString(hub.connectionString());
}

export function serviceClientFor(hub: Hub): InstanceType<typeof ServiceClient> {
  return ServiceClient.fromConnectionString(hub.connectionString());
}

/** Registers a device through the service SDK and returns its connection string. */
export async function createDevice(hub: Hub, deviceId: string): Promise<string> {
  await registryFor(hub).create({ deviceId });
  return hub.deviceConnectionString(deviceId);
}

export async function openDevice(connectionString: string, transport: TransportName = 'Mqtt'): Promise<InstanceType<typeof DeviceClient>> {
  const client = DeviceClient.fromConnectionString(connectionString, transports[transport]);
  await client.open();
  return client;
}

/** Raw HTTPS call to the hub with a valid service SAS: for what the SDKs cannot send (bad JSON, PUT twin). */
export async function rest(
  hub: Hub,
  method: string,
  path: string,
  body?: string | object,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  const response = await fetchWithCa(hub, `https://${hub.hostName}:${hub.httpsPort}${path}`, {
    method,
    headers: { authorization: hub.serviceToken(), 'content-type': 'application/json; charset=utf-8', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

// Node's fetch honours NODE_EXTRA_CA_CERTS, which the global setup sets for the workers.
async function fetchWithCa(_hub: Hub, url: string, init: RequestInit): Promise<Response> {
  return fetch(url, init);
}
