import device from 'azure-iot-device';
import type { Hub } from '../../emulator/hub.js';
import { amqpTransports, type AmqpTransportName } from './amqp.js';
import { registryFor, transports, type TransportName } from './sdk.js';

export const { ModuleClient } = device;
export type Module = InstanceType<typeof ModuleClient>;
export type ModuleTransportName = TransportName | AmqpTransportName;

// Kept apart from sdk.ts, so that the MQTT-only tests do not load the AMQP transport.
const moduleTransports = { ...transports, ...amqpTransports } as const;

/** Registers a module (and its device, the first time) through the service SDK; returns the module's connection string. */
export async function createModule(hub: Hub, deviceId: string, moduleId: string): Promise<string> {
  const registry = registryFor(hub);
  if (!hub.registry.find(deviceId)) await registry.create({ deviceId });
  await registry.addModule({ deviceId, moduleId } as never);
  return hub.moduleConnectionString(deviceId, moduleId);
}

/** An azure-iot-device ModuleClient, opened over the named transport. */
export async function openModule(connectionString: string, transport: ModuleTransportName): Promise<Module> {
  const client = ModuleClient.fromConnectionString(connectionString, moduleTransports[transport]);
  await client.open();
  return client;
}
