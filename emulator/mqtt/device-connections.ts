import type { Client } from 'aedes';
import { DESIRED_FILTER, METHODS_FILTER, TWIN_RESPONSE_FILTER, c2dFilter, type SubscriptionKind } from '../../protocol/topics.js';
import type { DeviceChannel } from '../device-channel.js';

interface Waiter {
  kind: SubscriptionKind;
  resolve: (online: boolean) => void;
  timer: NodeJS.Timeout;
}

function filterFor(deviceId: string, kind: SubscriptionKind): string {
  switch (kind) {
    case 'methods':
      return METHODS_FILTER;
    case 'desired':
      return DESIRED_FILTER;
    case 'twinResponses':
      return TWIN_RESPONSE_FILTER;
    case 'c2d':
      return c2dFilter(deviceId);
  }
}

const noop = (): void => {};

/** aedes keeps each client's granted subscriptions (restored ones included) keyed by filter. */
export function subscriptionsOf(client: Client): Record<string, unknown> {
  return (client as unknown as { subscriptions: Record<string, unknown> }).subscriptions;
}

/** The live MQTT connection of each device, and delivery to exactly that connection. */
export class DeviceConnections implements DeviceChannel {
  private readonly clients = new Map<string, Client>();
  private readonly waiters = new Map<string, Set<Waiter>>();

  get count(): number {
    return this.clients.size;
  }

  current(deviceId: string): Client | undefined {
    return this.clients.get(deviceId);
  }

  attach(deviceId: string, client: Client): void {
    this.clients.set(deviceId, client);
    this.wake(deviceId);
  }

  /** Forgets a closed connection, unless a newer one for the same device already replaced it. */
  detach(deviceId: string, client: Client): boolean {
    if (this.clients.get(deviceId) !== client) return false;
    this.clients.delete(deviceId);
    return true;
  }

  isSubscribed(deviceId: string, kind: SubscriptionKind): boolean {
    const client = this.clients.get(deviceId);
    return client !== undefined && !client.closed && filterFor(deviceId, kind) in subscriptionsOf(client);
  }

  whenSubscribed(deviceId: string, kind: SubscriptionKind, timeoutMs: number): Promise<boolean> {
    if (this.isSubscribed(deviceId, kind)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const set = this.waiters.get(deviceId) ?? new Set<Waiter>();
      this.waiters.set(deviceId, set);
      const waiter: Waiter = {
        kind,
        resolve,
        timer: setTimeout(() => {
          set.delete(waiter);
          if (set.size === 0) this.waiters.delete(deviceId);
          resolve(false);
        }, timeoutMs),
      };
      set.add(waiter);
    });
  }

  /** Called when a device connected or subscribed: releases calls waiting for it. */
  wake(deviceId: string): void {
    const set = this.waiters.get(deviceId);
    if (!set) return;
    for (const waiter of set) {
      if (!this.isSubscribed(deviceId, waiter.kind)) continue;
      clearTimeout(waiter.timer);
      set.delete(waiter);
      waiter.resolve(true);
    }
    if (set.size === 0) this.waiters.delete(deviceId);
  }

  send(deviceId: string, topic: string, payload: string | Buffer): boolean {
    const client = this.clients.get(deviceId);
    if (!client || client.closed) return false;
    const packet = { cmd: 'publish' as const, topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: 0 as const, retain: false, dup: false };
    // deliver0 writes to this one client's socket; nothing goes through the broker's topic tree.
    (client as unknown as { deliver0(packet: object, cb: () => void): void }).deliver0(packet, noop);
    return true;
  }

  /** Closes the connections of the devices `select` picks (the chaos API); returns their ids. */
  disconnectWhere(select: (deviceId: string) => boolean, destroy = false): string[] {
    const picked: string[] = [];
    for (const [deviceId, client] of this.clients) {
      if (!select(deviceId)) continue;
      picked.push(deviceId);
      if (destroy) (client as unknown as { conn: { destroy(): void } }).conn.destroy();
      else client.close();
    }
    return picked;
  }

  disconnect(deviceId: string): void {
    this.clients.get(deviceId)?.close();
  }

  closeAll(): void {
    for (const set of this.waiters.values()) {
      for (const waiter of set) {
        clearTimeout(waiter.timer);
        waiter.resolve(false);
      }
    }
    this.waiters.clear();
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
