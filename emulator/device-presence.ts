import type { Client } from 'aedes';
import type { AmqpPeer, DevicePresence } from './amqp/index.js';
import type { HubEvents } from './events.js';
import type { RegistryService } from './identity/registry-service.js';

/** The MQTT face's view of a device's connection, as far as presence needs it. */
export interface MqttConnections {
  current(deviceId: string): Client | undefined;
  detach(deviceId: string, client: Client): boolean;
}

/**
 * One connection per device across protocols (docs/protocol.md §11.5): a device that
 * connects again — over MQTT or AMQP — drops its older connection, whichever protocol that was,
 * as IoT Hub does. MQTT takeovers between two MQTT connections stay aedes' own.
 */
export class OneConnectionPerDevice implements DevicePresence {
  private readonly peers = new Map<string, AmqpPeer>();

  constructor(
    private readonly registry: RegistryService,
    private readonly events: HubEvents,
    private readonly mqtt: MqttConnections,
  ) {
    // An MQTT connection of the device replaces its AMQP one.
    events.on('deviceConnected', ({ deviceId, transport }) => {
      if (transport.startsWith('amqp')) return;
      const peer = this.peers.get(deviceId);
      if (!peer) return;
      this.peers.delete(deviceId);
      this.events.emit('deviceDisconnected', { deviceId, reason: 'connected again over MQTT' });
      peer.close('amqp:connection:forced', `Device '${deviceId}' connected again on another connection.`);
    });
  }

  /** Devices connected over AMQP. */
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

  connected(deviceId: string, peer: AmqpPeer): void {
    const previous = this.peers.get(deviceId);
    if (previous === peer) return;
    this.peers.set(deviceId, peer);
    if (previous) {
      this.events.emit('deviceDisconnected', { deviceId, reason: 'connected again' });
      previous.close('amqp:connection:forced', `Device '${deviceId}' connected again on another connection.`);
    }
    const client = this.mqtt.current(deviceId);
    if (client) {
      // Detached first, so the MQTT face's own close handling does not mark the device disconnected.
      this.mqtt.detach(deviceId, client);
      this.events.emit('deviceDisconnected', { deviceId, reason: 'connected again over AMQP' });
      client.close();
    }
    const record = this.registry.find(deviceId);
    if (record) this.registry.setConnected(record, true);
    this.events.emit('deviceConnected', { deviceId, transport: peer.transport });
  }

  disconnected(deviceId: string, peer: AmqpPeer, reason: string): void {
    if (this.peers.get(deviceId) !== peer) return;
    this.peers.delete(deviceId);
    const record = this.registry.find(deviceId);
    if (record) this.registry.setConnected(record, false);
    this.events.emit('deviceDisconnected', { deviceId, reason });
  }
}
