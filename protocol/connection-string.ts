// `Key=value;Key=value` connection strings as the Azure SDKs write and read them.

export interface HubConnectionString {
  readonly hostName: string;
  readonly sharedAccessKeyName: string;
  readonly sharedAccessKey: string;
}

export interface DeviceConnectionString {
  readonly hostName: string;
  readonly deviceId: string;
  readonly sharedAccessKey: string;
  readonly gatewayHostName?: string;
}

export function parseConnectionString(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`Malformed connection string segment '${part}'`);
    fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return fields;
}

export function parseHubConnectionString(text: string): HubConnectionString {
  const f = parseConnectionString(text);
  const hostName = f.get('hostname');
  const sharedAccessKeyName = f.get('sharedaccesskeyname');
  const sharedAccessKey = f.get('sharedaccesskey');
  if (!hostName || !sharedAccessKeyName || !sharedAccessKey) {
    throw new Error('A hub connection string needs HostName, SharedAccessKeyName and SharedAccessKey');
  }
  return { hostName, sharedAccessKeyName, sharedAccessKey };
}

export function parseDeviceConnectionString(text: string): DeviceConnectionString {
  const f = parseConnectionString(text);
  const hostName = f.get('hostname');
  const deviceId = f.get('deviceid');
  const sharedAccessKey = f.get('sharedaccesskey');
  if (!hostName || !deviceId || !sharedAccessKey) {
    throw new Error('A device connection string needs HostName, DeviceId and SharedAccessKey');
  }
  return { hostName, deviceId, sharedAccessKey, gatewayHostName: f.get('gatewayhostname') };
}

export function hubConnectionString(cs: HubConnectionString): string {
  return `HostName=${cs.hostName};SharedAccessKeyName=${cs.sharedAccessKeyName};SharedAccessKey=${cs.sharedAccessKey}`;
}

export function deviceConnectionString(cs: DeviceConnectionString): string {
  const gateway = cs.gatewayHostName ? `;GatewayHostName=${cs.gatewayHostName}` : '';
  return `HostName=${cs.hostName};DeviceId=${cs.deviceId};SharedAccessKey=${cs.sharedAccessKey}${gateway}`;
}

/**
 * The Event Hubs-compatible connection string, in the form IoT Hub's portal shows it:
 * `Endpoint=sb://HOST/;SharedAccessKeyName=…;SharedAccessKey=…;EntityPath=NAME`. With a port it
 * goes into the Endpoint; `developmentEmulator` adds `UseDevelopmentEmulator=true` (plain AMQP).
 */
export function eventHubsConnectionString(cs: {
  host: string;
  port?: number;
  sharedAccessKeyName: string;
  sharedAccessKey: string;
  entityPath: string;
  developmentEmulator?: boolean;
}): string {
  const endpoint = `sb://${cs.host}${cs.port === undefined ? '' : `:${cs.port}`}/`;
  return `Endpoint=${endpoint};SharedAccessKeyName=${cs.sharedAccessKeyName};SharedAccessKey=${cs.sharedAccessKey};EntityPath=${cs.entityPath}${cs.developmentEmulator ? ';UseDevelopmentEmulator=true' : ''}`;
}

/** A module's connection string (`…;DeviceId=d;ModuleId=m;SharedAccessKey=…`), as ModuleClient reads it. */
export function moduleConnectionString(cs: DeviceConnectionString & { readonly moduleId: string }): string {
  const gateway = cs.gatewayHostName ? `;GatewayHostName=${cs.gatewayHostName}` : '';
  return `HostName=${cs.hostName};DeviceId=${cs.deviceId};ModuleId=${cs.moduleId};SharedAccessKey=${cs.sharedAccessKey}${gateway}`;
}
