import type { HubEvents } from '../events.js';
import { splitIdentityKey } from '../identity/module-record.js';
import type { RegistryService } from '../identity/registry-service.js';
import type { AmqpPeer } from './peer.js';

/**
 * `deviceId` is a connection key: a device id, or `{deviceId}/{moduleId}` for a module.
 *
 * How the AMQP face tells the hub that a device connected or left (the coordination point for
 * "one connection per device across protocols"). The face calls:
 *   connected(deviceId, peer)            once per (connection, device), when the device's first
 *                                        put-token on that connection succeeded
 *   disconnected(deviceId, peer, reason) when that connection ended (or was closed by the hub)
 * An implementation that keeps one connection per device closes the older one with
 * `peer.close('amqp:connection:forced', …)` (AMQP) or its MQTT client.
 */
export interface DevicePresence {
  connected(deviceId: string, peer: AmqpPeer): void;
  disconnected(deviceId: string, peer: AmqpPeer, reason: string): void;
}

/**
 * The presence of AMQP devices on their own: twin connectionState, connection events, and the
 * newest AMQP connection of a device replacing an older one. Devices on MQTT are not consulted;
 * a cross-protocol implementation replaces this one.
 */
export class AmqpOnlyDevicePresence implements DevicePresence {
  private readonly peers = new Map<string, AmqpPeer>();

  /** AMQP devices connected now. */
  get count(): number {
    return this.peers.size;
  }

  constructor(
    private readonly registry: RegistryService,
    private readonly events: HubEvents,
  ) {}

  connected(deviceId: string, peer: AmqpPeer): void {
    const previous = this.peers.get(deviceId);
    this.peers.set(deviceId, peer);
    if (previous && previous !== peer) previous.close('amqp:connection:forced', `Device '${deviceId}' connected again on another connection.`);
    const record = this.registry.findIdentity(deviceId);
    if (record) this.registry.setConnected(record, true);
    this.events.emit('deviceConnected', { ...splitIdentityKey(deviceId), transport: peer.transport });
  }

  disconnected(deviceId: string, peer: AmqpPeer, reason: string): void {
    if (this.peers.get(deviceId) !== peer) return;
    this.peers.delete(deviceId);
    const record = this.registry.findIdentity(deviceId);
    if (record) this.registry.setConnected(record, false);
    this.events.emit('deviceDisconnected', { ...splitIdentityKey(deviceId), reason });
  }
}
