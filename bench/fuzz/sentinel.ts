import type iothub from 'azure-iothub';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';

/**
 * A known-good device on the unmodified SDK (azure-iot-device + Mqtt) that the fuzz cases never
 * name: after every batch it must still answer a method and its twin must be as it was left.
 */
export class Sentinel {
  static readonly deviceId = 'fuzz-sentinel';
  private client?: InstanceType<typeof device.Client>;

  constructor(
    private readonly registry: InstanceType<typeof iothub.Registry>,
    private readonly service: InstanceType<typeof iothub.Client>,
    private readonly deviceConnectionString: (key: string) => string,
  ) {}

  async start(): Promise<void> {
    const created = await this.registry.create({ deviceId: Sentinel.deviceId });
    const key = created.responseBody.authentication!.symmetricKey!.primaryKey!;
    this.client = device.Client.fromConnectionString(this.deviceConnectionString(key), deviceMqtt.Mqtt);
    await this.client.open();
    this.client.onDeviceMethod('ping', (request, response) => {
      response.send(200, { pong: request.payload }, () => undefined);
    });
    const twin = await this.client.getTwin();
    await new Promise<void>((resolve, reject) =>
      twin.properties.reported.update({ sentinel: 'ok', nested: { a: [1, 2, 3] } }, (e?: Error) => (e ? reject(e) : resolve())),
    );
    await this.registry.updateTwin(Sentinel.deviceId, { tags: { role: 'sentinel' }, properties: { desired: { keep: 'me' } } }, '*');
  }

  /** What is wrong with the sentinel now, or undefined. */
  async check(): Promise<string | undefined> {
    try {
      const nonce = Math.floor(Math.random() * 1e9);
      const { result } = await this.service.invokeDeviceMethod(Sentinel.deviceId, { methodName: 'ping', payload: { nonce }, responseTimeoutInSeconds: 10 });
      const answer = result as { status?: number; payload?: { pong?: { nonce?: number } } };
      if (answer.status !== 200 || answer.payload?.pong?.nonce !== nonce) return `method answered ${JSON.stringify(result)}`;
      const twin = (await this.registry.getTwin(Sentinel.deviceId)).responseBody as unknown as {
        tags?: { role?: string };
        properties: { desired: { keep?: string }; reported: { sentinel?: string; nested?: unknown } };
      };
      if (
        twin.tags?.role !== 'sentinel' ||
        twin.properties.desired.keep !== 'me' ||
        twin.properties.reported.sentinel !== 'ok' ||
        JSON.stringify(twin.properties.reported.nested) !== '{"a":[1,2,3]}'
      ) {
        return `twin changed: ${JSON.stringify({ tags: twin.tags, desired: twin.properties.desired.keep, reported: twin.properties.reported.sentinel })}`;
      }
      return undefined;
    } catch (error) {
      return `sentinel failed: ${(error as Error).message}`;
    }
  }

  async stop(): Promise<void> {
    await this.client?.close().catch(() => undefined);
  }
}
