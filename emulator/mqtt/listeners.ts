import type { Aedes } from 'aedes';
import type { Server as HttpsServer } from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';

export const WEBSOCKET_PATH = '/$iothub/websocket';

/** MQTT over TLS (8883), as the device SDKs' Mqtt transport expects. */
export function createMqttTlsServer(broker: Aedes, credentials: { cert: string; key: string }): tls.Server {
  const server = tls.createServer({ cert: credentials.cert, key: credentials.key, minVersion: 'TLSv1.2' }, (socket) => {
    socket.setNoDelay(true);
    const client = broker.handle(socket);
    (client as unknown as { transport: string }).transport = 'mqtt';
  });
  // Failed handshakes are logged by the hub (tls/handshake-failures.ts).
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

/** MQTT over WebSocket at /$iothub/websocket on the HTTPS port (the MqttWs transport), sub-protocol mqtt. */
export function attachMqttWebSocket(server: HttpsServer, broker: Aedes): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
  });
  server.on('upgrade', (req, socket, head) => {
    const pathname = (req.url ?? '').split('?')[0];
    if (pathname !== WEBSOCKET_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', () => stream.destroy());
      const client = broker.handle(stream, req);
      (client as unknown as { transport: string }).transport = 'mqtt-ws';
    });
  });
  return wss;
}
