import type { Client } from 'aedes';
import type { AmqpPeer, DevicePresence } from './amqp/index.js';
import type { HubEvents } from './events.js';
import { moduleKey, splitIdentityKey } from './identity/module-record.js';
import type { RegistryService } from './identity/registry-service.js';

/** The MQTT face's view of a device's connection, as far as presence needs it. */
export interface MqttConnections {
  current(deviceId: string): Client | undefined;
  detach(deviceId: string, client: Client): boolean;
}

/**
 * One connection per device across protocols (docs/protocol.md §11.5): a device that
 * connects again — over MQTT or AMQP — drops its older connection, whichever protocol that was,
 * as IoT Hub does. MQTT takeovers between two MQTT connections stay aedes' own. Identities are
 * connection keys: a device id, or `{deviceId}/{moduleId}` for a module (docs/protocol.md §12.3),
 * so each module identity has its own one connection.
 */
export class OneConnectionPerDevice implements DevicePresence {
  private readonly peers = new Map<string, AmqpPeer>();
  /** the module keys connected over AMQP, per device, so a device's disconnect reaches them without a scan */
  private readonly modulesOf = new Map<string, Set<string>>();

  constructor(
    private readonly registry: RegistryService,
    private readonly events: HubEvents,
    private readonly mqtt: MqttConnections,
  ) {
    // An MQTT connection of the device (or module) replaces its AMQP one.
    events.on('deviceConnected', ({ deviceId, moduleId, transport }) => {
      if (transport.startsWith('amqp')) return;
      const key = moduleId === undefined ? deviceId : moduleKey(deviceId, moduleId);
      const peer = this.peers.get(key);
      if (!peer) return;
      this.forget(key);
      this.events.emit('deviceDisconnected', { ...splitIdentityKey(key), reason: 'connected again over MQTT' });
      peer.close('amqp:connection:forced', `${describeKey(key)} connected again on another connection.`);
    });
  }

  /** Devices (and modules) connected over AMQP. */
  get count(): number {
    return this.peers.size;
  }

  /** Closes the AMQP connections of the devices `select` picks (the chaos API's drops and restarts); returns their ids. */
  disconnectWhere(select: (deviceId: string) => boolean): string[] {
    const picked: string[] = [];
    for (const [deviceId, peer] of this.peers) {
      if (!select(deviceId)) continue;
      picked.push(deviceId);
      const description = `The hub closed the connection of '${deviceId}' (a fault rule).`;
      peer.closeInOrder({ condition: 'amqp:link:detach-forced', description }, { condition: 'amqp:connection:forced', description });
    }
    return picked;
  }

  /** The AMQP connections holding this identity and, for a device, its modules (the hub drops them together). */
  amqpPeersOf(key: string): AmqpPeer[] {
    const found: AmqpPeer[] = [];
    for (const k of [key, ...(this.modulesOf.get(key) ?? [])]) {
      const peer = this.peers.get(k);
      if (peer) found.push(peer);
    }
    return found;
  }

  connected(deviceId: string, peer: AmqpPeer): void {
    const previous = this.peers.get(deviceId);
    if (previous === peer) return;
    this.peers.set(deviceId, peer);
    const { deviceId: owner, moduleId } = splitIdentityKey(deviceId);
    if (moduleId !== undefined) {
      const set = this.modulesOf.get(owner) ?? new Set<string>();
      this.modulesOf.set(owner, set);
      set.add(deviceId);
    }
    if (previous) {
      this.events.emit('deviceDisconnected', { ...splitIdentityKey(deviceId), reason: 'connected again' });
      previous.close('amqp:connection:forced', `${describeKey(deviceId)} connected again on another connection.`);
    }
    const client = this.mqtt.current(deviceId);
    if (client) {
      // Detached first, so the MQTT face's own close handling does not mark the device disconnected.
      this.mqtt.detach(deviceId, client);
      this.events.emit('deviceDisconnected', { ...splitIdentityKey(deviceId), reason: 'connected again over AMQP' });
      client.close();
    }
    const record = this.registry.findIdentity(deviceId);
    if (record) this.registry.setConnected(record, true);
    this.events.emit('deviceConnected', { ...splitIdentityKey(deviceId), transport: peer.transport });
  }

  disconnected(deviceId: string, peer: AmqpPeer, reason: string): void {
    if (this.peers.get(deviceId) !== peer) return;
    this.forget(deviceId);
    const record = this.registry.findIdentity(deviceId);
    if (record) this.registry.setConnected(record, false);
    this.events.emit('deviceDisconnected', { ...splitIdentityKey(deviceId), reason });
  }

  private forget(key: string): void {
    this.peers.delete(key);
    const { deviceId, moduleId } = splitIdentityKey(key);
    if (moduleId === undefined) return;
    const set = this.modulesOf.get(deviceId);
    set?.delete(key);
    if (set?.size === 0) this.modulesOf.delete(deviceId);
  }
}

function describeKey(key: string): string {
  const { deviceId, moduleId } = splitIdentityKey(key);
  return moduleId === undefined ? `Device '${deviceId}'` : `Module '${moduleId}' of device '${deviceId}'`;
}
