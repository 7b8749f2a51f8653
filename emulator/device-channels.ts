import type { SubscriptionKind } from '../protocol/topics.js';
import type { DeviceChannel } from './device-channel.js';

/**
 * The services' one DeviceChannel over every face that holds device connections (MQTT, AMQP): a
 * device is on at most one of them at a time, so each call goes to whichever has it.
 */
export class DeviceChannels implements DeviceChannel {
  private readonly channels: DeviceChannel[] = [];

  constructor(...channels: DeviceChannel[]) {
    this.channels.push(...channels);
  }

  /** Faces built after the services (AMQP) join here. */
  add(channel: DeviceChannel): void {
    this.channels.push(channel);
  }

  isSubscribed(deviceId: string, kind: SubscriptionKind): boolean {
    return this.channels.some((c) => c.isSubscribed(deviceId, kind));
  }

  whenSubscribed(deviceId: string, kind: SubscriptionKind, timeoutMs: number): Promise<boolean> {
    if (this.isSubscribed(deviceId, kind)) return Promise.resolve(true);
    // True as soon as any face has the device subscribed; false once every one timed out.
    return new Promise((resolve) => {
      let pending = this.channels.length;
      for (const channel of this.channels) {
        void channel.whenSubscribed(deviceId, kind, timeoutMs).then((online) => {
          pending--;
          if (online) resolve(true);
          else if (pending === 0) resolve(false);
        });
      }
    });
  }

  send(deviceId: string, topic: string, payload: string | Buffer): boolean {
    return this.channels.some((c) => c.send(deviceId, topic, payload));
  }

  disconnect(deviceId: string, reason: string): void {
    for (const channel of this.channels) channel.disconnect(deviceId, reason);
  }
}
