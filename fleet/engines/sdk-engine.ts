import device, { type Client as DeviceClient, type Twin } from 'azure-iot-device';
import { createRequire } from 'node:module';
import deviceMqtt from 'azure-iot-device-mqtt';
import { deviceConnectionString, moduleConnectionString } from '../../protocol/connection-string.js';
import type { JsonObject } from '../devices/device-behaviour.js';
import type { HubAddress } from '../hub/hub-address.js';
import type { FleetIdentity } from '../hub/registration.js';
import { caBundle } from '../hub/trust.js';
import { renewalMarginSeconds, USER_AGENT, type DeviceLink, type Engine, type EngineOptions, type LinkEvents, type TwinProperties } from './engine.js';

// CommonJS packages: their named exports are only reachable through the default import under ESM.
const { Client, ModuleClient, Message, SharedAccessKeyAuthenticationProvider } = device;
const { Mqtt } = deviceMqtt;

rememberPlatformString();

/**
 * Every SDK client works out the OS name for its user agent with `getos`, which on Debian runs
 * `lsb_release -a`, a Python program: one process per device, several seconds of CPU per hundred
 * devices. The answer cannot change within a process, so the first one is kept; what goes on the
 * wire is the same string.
 */
function rememberPlatformString(): void {
  const common = createRequire(import.meta.url)('azure-iot-common') as { getAgentPlatformString: (done: (platform: string) => void) => void };
  const original = common.getAgentPlatformString;
  let known: string | undefined;
  let waiting: ((platform: string) => void)[] | undefined;
  common.getAgentPlatformString = (done) => {
    if (known !== undefined) return done(known);
    if (waiting) return void waiting.push(done);
    waiting = [done];
    original((platform) => {
      known = platform;
      for (const callback of waiting!.splice(0)) callback(platform);
    });
  };
}

/**
 * Each device is a real `azure-iot-device` Client over `azure-iot-device-mqtt`, exactly as a device
 * app would write it: faithful to the SDK's wire behaviour (retries, renewal, subscriptions), and
 * heavier per device than the light engine.
 */
export class SdkEngine implements Engine {
  readonly name = 'sdk' as const;
  private readonly ca: string | undefined;

  constructor(
    private readonly hub: HubAddress,
    private readonly options: EngineOptions,
  ) {
    // The SDK hands `ca` to every TLS connection, and `ca` replaces the system list: repeat the roots.
    this.ca = caBundle(options.ca)?.join('\n');
  }

  async connect(identity: FleetIdentity, methods: readonly string[], events: LinkEvents): Promise<DeviceLink> {
    const ttl = this.options.tokenTtlSeconds;
    const fields = {
      hostName: this.hub.hostName,
      deviceId: identity.deviceId,
      sharedAccessKey: identity.keys.primaryKey,
      // The SDK always dials 8883; a gateway host name with a port points it elsewhere (the in-process demo).
      gatewayHostName: this.hub.mqttPort === 8883 ? undefined : `${this.hub.hostName}:${this.hub.mqttPort}`,
    };
    const connectionString =
      identity.moduleId === undefined ? deviceConnectionString(fields) : moduleConnectionString({ ...fields, moduleId: identity.moduleId });
    const provider = SharedAccessKeyAuthenticationProvider.fromConnectionString(connectionString, ttl, renewalMarginSeconds(ttl));
    // A module identity is an azure-iot-device ModuleClient, as a module app writes it.
    const client = (
      identity.moduleId === undefined ? Client.fromAuthenticationProvider(provider, Mqtt) : ModuleClient.fromAuthenticationProvider(provider, Mqtt)
    ) as DeviceClient;
    const link = new SdkLink(client, provider, events);
    try {
      await client.setOptions({ productInfo: `${USER_AGENT} (sdk)`, ...(this.ca ? { ca: this.ca } : {}) });
      await client.open();
      // ModuleClient names it onMethod; the request and response are the same.
      const onMethod = (
        identity.moduleId === undefined ? client.onDeviceMethod : (client as unknown as { onMethod: DeviceClient['onDeviceMethod'] }).onMethod
      ).bind(client);
      for (const name of methods) {
        onMethod(name, (request, response) => {
          const arrivedAt = performance.now();
          events.method({
            name,
            payload: request.payload,
            arrivedAt,
            respond: (status, payload) => response.send(status, payload, () => {}),
          });
        });
      }
      await link.attachTwin();
      // The SDK renews by itself (a new token, then a reconnect); counted from here on.
      provider.on('newTokenAvailable', () => events.renewed());
    } catch (error) {
      await link.close();
      throw error;
    }
    return link;
  }

  close(): void {}
}

class SdkLink implements DeviceLink {
  private twin: Twin | undefined;
  private closing = false;
  /** the SDK fires its desired-change events for a whole GET result too; those are not patches */
  private reading = false;
  private fresh = true;

  constructor(
    private readonly client: DeviceClient,
    private readonly provider: { stop(): void; removeAllListeners(): unknown },
    private readonly events: LinkEvents,
  ) {
    // The SDK retries transient failures itself; 'disconnect' means it gave up.
    client.on('disconnect', () => this.lost(new Error('the SDK client disconnected')));
    client.on('error', (error: Error) => this.lost(error));
  }

  /** Subscribes to twin responses and desired patches (awaited, so a patch sent right after is seen). */
  async attachTwin(): Promise<void> {
    const twin = await this.client.getTwin();
    this.twin = twin;
    twin.on('error', () => {});
    await new Promise<void>((resolve, reject) => twin.enableTwinDesiredPropertiesUpdates((error) => (error ? reject(error) : resolve())));
    // Adding the listener fires it once with the whole desired document; the device reads that through getTwin.
    let first = true;
    twin.on('properties.desired', (patch: JsonObject) => {
      if (first || this.reading) {
        first = false;
        return;
      }
      this.events.desired(patch);
    });
  }

  async getTwin(): Promise<TwinProperties> {
    let twin = this.requireTwin();
    // client.getTwin() has just read it when the link opened; later calls read it again.
    if (!this.fresh) {
      this.reading = true;
      try {
        twin = await twin.get();
      } finally {
        this.reading = false;
      }
    }
    this.fresh = false;
    return { desired: { ...twin.properties.desired }, reported: withoutFunctions(twin.properties.reported) };
  }

  reportProperties(patch: JsonObject): Promise<void> {
    const twin = this.requireTwin();
    return new Promise((resolve, reject) => twin.properties.reported.update(patch, (error?: Error) => (error ? reject(error) : resolve())));
  }

  async sendTelemetry(body: string, properties: Record<string, string>): Promise<void> {
    const message = new Message(body);
    message.contentType = 'application/json';
    message.contentEncoding = 'utf-8';
    for (const [key, value] of Object.entries(properties)) {
      if (!key.startsWith('$.')) message.properties.add(key, value);
    }
    await this.client.sendEvent(message);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.client.removeAllListeners('disconnect');
    try {
      await this.client.close();
    } catch {
      // already gone
    }
    this.client.removeAllListeners();
    // Its renewal timer would otherwise outlive the client.
    this.provider.stop();
    this.provider.removeAllListeners();
  }

  private lost(error: Error): void {
    if (this.closing) return;
    this.closing = true;
    void this.client.close().catch(() => {});
    this.provider.stop();
    this.events.lost(error);
  }

  private requireTwin(): Twin {
    if (!this.twin || this.closing) throw new Error('the device is disconnected');
    return this.twin;
  }
}

/** `twin.properties.reported` carries the SDK's `update` function next to the values. */
function withoutFunctions(reported: Record<string, unknown>): JsonObject {
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(reported)) if (typeof value !== 'function') result[key] = value;
  return result;
}
