import type { Aedes } from 'aedes';
import type { Server as HttpsServer } from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';

export const WEBSOCKET_PATH = '/$iothub/websocket';
/** Event Hubs clients' WebSocket path (AMQP only). */
export const SERVICEBUS_WEBSOCKET_PATH = '/$servicebus/websocket';
export const AMQP_WEBSOCKET_PROTOCOL = 'AMQPWSB10';

/** MQTT over TLS (8883), as the device SDKs' Mqtt transport expects. */
export function createMqttTlsServer(broker: Aedes, credentials: { cert: string; key: string }): tls.Server {
  const server = tls.createServer({ cert: credentials.cert, key: credentials.key, minVersion: 'TLSv1.2' }, (socket) => {
    socket.setNoDelay(true);
    const client = broker.handle(socket);
    (client as unknown as { transport: string }).transport = 'mqtt';
  });
  server.on('tlsClientError', () => {
    // A client that does not trust our CA fails its handshake; nothing to do on our side.
  });
  return server;
}

/** Plain MQTT for tools that cannot do TLS; the SDKs never use it. */
export function createMqttPlainServer(broker: Aedes): net.Server {
  return net.createServer((socket) => {
    socket.setNoDelay(true);
    const client = broker.handle(socket);
    (client as unknown as { transport: string }).transport = 'mqtt-tcp';
  });
}

/**
 * WebSockets on the HTTPS port, dispatched by sub-protocol: `mqtt` at /$iothub/websocket (the
 * MqttWs transport) goes to aedes; `AMQPWSB10` at /$iothub/websocket (AmqpWs) or
 * /$servicebus/websocket (Event Hubs clients) goes to the AMQP face when there is one.
 */
export function attachMqttWebSocket(server: HttpsServer, broker: Aedes, amqp?: { acceptWebSocket(ws: WebSocket): void }): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols, req) => {
      const pathname = (req.url ?? '').split('?')[0];
      if (amqp && protocols.has(AMQP_WEBSOCKET_PROTOCOL)) return AMQP_WEBSOCKET_PROTOCOL;
      return pathname === WEBSOCKET_PATH && protocols.has('mqtt') ? 'mqtt' : false;
    },
  });
  server.on('upgrade', (req, socket, head) => {
    const pathname = (req.url ?? '').split('?')[0];
    if (pathname !== WEBSOCKET_PATH && !(amqp && pathname === SERVICEBUS_WEBSOCKET_PATH)) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (ws.protocol === AMQP_WEBSOCKET_PROTOCOL && amqp) {
        amqp.acceptWebSocket(ws);
        return;
      }
      if (pathname !== WEBSOCKET_PATH) {
        ws.close(1002, 'this path serves AMQP (sub-protocol AMQPWSB10) only');
        return;
      }
      const stream = createWebSocketStream(ws);
      stream.on('error', () => stream.destroy());
      const client = broker.handle(stream, req);
      (client as unknown as { transport: string }).transport = 'mqtt-ws';
    });
  });
  return wss;
}
