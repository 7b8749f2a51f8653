import type { Aedes, Client } from 'aedes';
import type { IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { guardListener, tlsHandshakeOptions, type ListenerLimits, type PendingConnections } from '../net/pending-connections.js';
import { HubError } from '../errors.js';
import { answerAndClose } from '../rest/client-errors.js';
import { guardParser } from './packet-guard.js';

type Connection = Parameters<Aedes['handle']>[0];

export const WEBSOCKET_PATH = '/$iothub/websocket';

/** The bounds every MQTT listener applies (emulator/limits.ts, docs/protocol.md §14). */
export interface MqttListenerLimits extends ListenerLimits {
  mqttMaxPacketBytes: number;
}

/**
 * Hands an accepted stream to aedes with the packet guard on its parser, and marks the
 * connection authenticated (no longer pending) once aedes has accepted its CONNECT.
 */
function handleDevice(
  broker: Aedes,
  stream: Connection,
  limits: MqttListenerLimits,
  transport: string,
  onAuthenticated: () => void,
  req?: IncomingMessage,
): void {
  const client = broker.handle(stream, req);
  guardParser(client, limits.mqttMaxPacketBytes);
  (client as unknown as { transport: string }).transport = transport;
  authenticatedHooks.set(client, onAuthenticated);
}

const authenticatedHooks = new WeakMap<Client, () => void>();
const watchedBrokers = new WeakSet<Aedes>();
function watchAuthentications(broker: Aedes): void {
  if (watchedBrokers.has(broker)) return;
  watchedBrokers.add(broker);
  broker.on('clientReady', (client: Client) => authenticatedHooks.get(client)?.());
}

/** MQTT over TLS (8883), as the device SDKs' Mqtt transport expects. */
export function createMqttTlsServer(broker: Aedes, credentials: { cert: string; key: string }, limits: MqttListenerLimits, log?: Logger): tls.Server {
  watchAuthentications(broker);
  let pending: PendingConnections | undefined;
  const server = tls.createServer({ cert: credentials.cert, key: credentials.key, minVersion: 'TLSv1.2', ...tlsHandshakeOptions(limits) }, (socket) => {
    socket.setNoDelay(true);
    handleDevice(broker, socket, limits, 'mqtt', () => pending?.authenticated(socket));
  });
  // A client that does not trust our CA fails its handshake; the guard closes that socket.
  pending = guardListener(server, 'MQTT/TLS', limits, log);
  return server;
}

/** Plain MQTT for tools that cannot do TLS; the SDKs never use it. */
export function createMqttPlainServer(broker: Aedes, limits: MqttListenerLimits, log?: Logger): net.Server {
  watchAuthentications(broker);
  let pending: PendingConnections | undefined;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    handleDevice(broker, socket, limits, 'mqtt-tcp', () => pending?.authenticated(socket));
  });
  pending = guardListener(server, 'MQTT/TCP', limits, log);
  return server;
}

/**
 * MQTT over WebSocket at /$iothub/websocket on the HTTPS port (the MqttWs transport), sub-protocol
 * mqtt. `pending` is the HTTPS listener's guard: an upgraded connection is pending again until its
 * MQTT CONNECT is accepted. Frames above the packet bound close the WebSocket (1009) from their
 * header, before their payload is read.
 */
export function attachMqttWebSocket(server: HttpsServer, broker: Aedes, limits: MqttListenerLimits, pending?: PendingConnections): WebSocketServer {
  watchAuthentications(broker);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.mqttMaxPacketBytes,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
  });
  server.on('upgrade', (req, socket, head) => {
    const refusal = upgradeRefusal(req);
    if (refusal) {
      answerAndClose(socket, refusal);
      return;
    }
    pending?.unauthenticated(socket);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', () => stream.destroy());
      handleDevice(broker, stream, limits, 'mqtt-ws', () => pending?.authenticated(socket), req);
    });
  });
  return wss;
}

/**
 * Why an upgrade request cannot become MQTT over WebSocket, in the hub's envelope (ws would
 * answer its own bare 400 for the last three): another path, or not a valid WebSocket handshake.
 */
function upgradeRefusal(req: IncomingMessage): HubError | undefined {
  const pathname = (req.url ?? '').split('?')[0];
  if (pathname !== WEBSOCKET_PATH) return new HubError('NotFound', `The emulator does not implement an upgrade of ${pathname}.`);
  if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket')
    return new HubError('ArgumentInvalid', 'Only a WebSocket upgrade (GET, Upgrade: websocket) is served here.');
  if (!/^[+/0-9A-Za-z]{22}==$/.test(req.headers['sec-websocket-key'] ?? '')) return new HubError('ArgumentInvalid', 'Sec-WebSocket-Key is missing or invalid.');
  const version = req.headers['sec-websocket-version'];
  if (version !== '8' && version !== '13') return new HubError('ArgumentInvalid', 'Sec-WebSocket-Version must be 13.');
  return undefined;
}
