import type { Client } from 'aedes';
import { DESIRED_FILTER, METHODS_FILTER, TWIN_RESPONSE_FILTER, c2dFilter, moduleInputsFilter, type SubscriptionKind } from '../../protocol/topics.js';
import type { DeviceChannel } from '../device-channel.js';
import { SubscriptionWaiters } from '../subscription-waiters.js';

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
    case 'inputs': {
      const slash = deviceId.indexOf('/');
      return moduleInputsFilter(deviceId.slice(0, slash), deviceId.slice(slash + 1));
    }
  }
}

const noop = (): void => {};
/**
 * One empty payload for every bodiless answer (a reported patch's 204): `Buffer.from('')` builds a
 * new zero-length ArrayBuffer each time, and in a sampled closed loop of reported patches those
 * were over half of all the bytes that outlived the young generation (docs/performance.md).
 * Nothing writes into a payload after it is handed to aedes.
 */
const EMPTY = Buffer.alloc(0);

/** aedes keeps each client's granted subscriptions (restored ones included) keyed by filter. */
export function subscriptionsOf(client: Client): Record<string, unknown> {
  return (client as unknown as { subscriptions: Record<string, unknown> }).subscriptions;
}

/**
 * The live MQTT connection of each device and each module (keyed by client id: `{deviceId}` or
 * `{deviceId}/{moduleId}`), and delivery to exactly that connection.
 */
export class DeviceConnections implements DeviceChannel {
  private readonly clients = new Map<string, Client>();
  private readonly waiters = new SubscriptionWaiters((deviceId, kind) => this.isSubscribed(deviceId, kind));
  /** the connected modules of each device, so a device's disconnect reaches them without a scan */
  private readonly modulesOf = new Map<string, Set<string>>();

  get count(): number {
    return this.clients.size;
  }

  current(deviceId: string): Client | undefined {
    return this.clients.get(deviceId);
  }

  attach(deviceId: string, client: Client): void {
    this.clients.set(deviceId, client);
    const slash = deviceId.indexOf('/');
    if (slash >= 0) {
      const device = deviceId.slice(0, slash);
      let set = this.modulesOf.get(device);
      if (!set) {
        set = new Set();
        this.modulesOf.set(device, set);
      }
      set.add(deviceId);
    }
    this.wake(deviceId);
  }

  /** Forgets a closed connection, unless a newer one for the same device already replaced it. */
  detach(deviceId: string, client: Client): boolean {
    if (this.clients.get(deviceId) !== client) return false;
    this.clients.delete(deviceId);
    const slash = deviceId.indexOf('/');
    if (slash >= 0) {
      const device = deviceId.slice(0, slash);
      const set = this.modulesOf.get(device);
      set?.delete(deviceId);
      if (set?.size === 0) this.modulesOf.delete(device);
    }
    return true;
  }

  isSubscribed(deviceId: string, kind: SubscriptionKind): boolean {
    const client = this.clients.get(deviceId);
    return client !== undefined && !client.closed && filterFor(deviceId, kind) in subscriptionsOf(client);
  }

  whenSubscribed(deviceId: string, kind: SubscriptionKind, timeoutMs: number): Promise<boolean> {
    return this.waiters.wait(deviceId, kind, timeoutMs);
  }

  /** Called when a device connected or subscribed: releases calls waiting for it. */
  wake(deviceId: string): void {
    this.waiters.wake(deviceId);
  }

  send(deviceId: string, topic: string, payload: string | Buffer): boolean {
    const client = this.clients.get(deviceId);
    if (!client || client.closed) return false;
    const packet = {
      cmd: 'publish' as const,
      topic,
      payload: typeof payload === 'string' ? (payload === '' ? EMPTY : Buffer.from(payload)) : payload,
      qos: 0 as const,
      retain: false,
      dup: false,
    };
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

  /** Closes a connection; a device's also closes its modules' (the device was disabled or deleted). */
  disconnect(deviceId: string): void {
    this.clients.get(deviceId)?.close();
    if (deviceId.includes('/')) return;
    const modules = this.modulesOf.get(deviceId);
    if (modules) for (const key of [...modules]) this.clients.get(key)?.close();
  }

  closeAll(): void {
    this.waiters.clear();
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    this.modulesOf.clear();
  }
}
