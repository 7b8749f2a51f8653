import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { MqttWire, type WireOptions } from '../fleet/engines/mqtt-wire.js';
import { clientSecureContext } from '../fleet/hub/trust.js';
import { createSasToken } from '../protocol/sas.js';
import { METHODS_FILTER, TWIN_RESPONSE_FILTER, telemetryTopic } from '../protocol/topics.js';
import { startTestHub } from './support/hub-factory.js';
import { createDevice } from './support/sdk.js';

// The light engine's MQTT connection, on its own against the emulator: what the engine tests
// cannot see (keep-alive, refusals, QoS 1 acknowledgements, how a connection ends).
let hub: Hub;

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

async function options(deviceId: string, change: Partial<WireOptions> = {}): Promise<WireOptions> {
  if (!hub.registry.find(deviceId)) await createDevice(hub, deviceId);
  const key = hub.registry.get(deviceId).authentication.symmetricKey.primaryKey!;
  return {
    host: hub.hostName,
    port: 8883,
    secureContext: clientSecureContext(hub.ca),
    clientId: deviceId,
    username: `${hub.hostName}/${deviceId}/?api-version=2021-04-12`,
    password: createSasToken(`${hub.hostName}/devices/${deviceId}`, key, Math.floor(Date.now() / 1000) + 3600),
    keepaliveSeconds: 60,
    connectTimeoutMs: 5_000,
    ...change,
  };
}

function open(wireOptions: WireOptions) {
  const messages: { topic: string; payload: string }[] = [];
  let resolveClosed!: (error: Error | undefined) => void;
  const closed = new Promise<Error | undefined>((r) => (resolveClosed = r));
  const wire = new MqttWire(wireOptions, {
    message: (topic, payload) => messages.push({ topic, payload: payload.toString('utf8') }),
    closed: (error) => resolveClosed(error),
  });
  return { wire, messages, closed };
}

describe('the light engine\u2019s MQTT connection', () => {
  it('refuses a wrong key with the same message as mqtt.js, and reports the close', async () => {
    const { wire, closed } = open(
      await options('w-wrong', {
        password: createSasToken(`${hub.hostName}/devices/w-wrong`, Buffer.alloc(32, 7).toString('base64'), Math.floor(Date.now() / 1000) + 60),
      }),
    );
    await expect(wire.connected).rejects.toThrow('Connection refused: Not authorized');
    expect((await closed)?.message).toBe('Connection refused: Not authorized');
  });

  it('reports sessionPresent: false first, then true once the hub kept the subscriptions', async () => {
    const first = open(await options('w-session'));
    expect(await first.wire.connected).toBe(false);
    expect(await first.wire.subscribe([METHODS_FILTER, TWIN_RESPONSE_FILTER])).toEqual([0, 0]);
    await first.wire.end();
    expect(await first.closed).toBeUndefined();

    const again = open(await options('w-session'));
    expect(await again.wire.connected).toBe(true);
    // The kept subscription delivers: a twin GET is answered without subscribing again.
    await again.wire.publish('$iothub/twin/GET/?$rid=7', ' ', 0);
    await expect.poll(() => again.messages.map((m) => m.topic)).toContain('$iothub/twin/res/200/?$rid=7');
    await again.wire.end();
  });

  it('keeps a quiet connection alive with pings past 1.5 \u00d7 its keep-alive', async () => {
    const { wire, closed } = open(await options('w-ping', { keepaliveSeconds: 2 }));
    await wire.connected;
    // The hub drops a connection silent for 3 s; the wire pings within every quiet 2 s. What is
    // asserted is that nothing happens for a while, so the window is time itself (5 s, past the
    // hub's deadline twice over); a close ends the wait at once.
    const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(r, 5_000, 'still open'))]);
    expect(outcome).toBe('still open');
    expect(hub.registry.get('w-ping').connectionState).toBe('Connected');
    await wire.end();
  });

  it('resolves a QoS 1 publish on the hub\u2019s PUBACK, after the hub has the message', async () => {
    const { wire } = open(await options('w-qos1'));
    await wire.connected;
    const seen: string[] = [];
    const listener = (event: { deviceId: string; payload: Buffer }) => {
      if (event.deviceId === 'w-qos1') seen.push(event.payload.toString('utf8'));
    };
    hub.events.on('telemetry', listener);
    try {
      await wire.publish(telemetryTopic('w-qos1', ''), '{"n":1}', 1);
      expect(seen).toEqual(['{"n":1}']);
    } finally {
      hub.events.off('telemetry', listener);
      await wire.end();
    }
  });

  it('reports why when the hub drops it, and refuses work afterwards', async () => {
    const base = await options('w-dropped');
    const first = open(base);
    await first.wire.connected;
    // A second connection for the same device makes the hub drop the first (docs/protocol.md §1.2).
    const second = open(base);
    await second.wire.connected;
    const error = await first.closed;
    expect(error).toBeInstanceOf(Error);
    await expect(first.wire.publish(telemetryTopic('w-dropped', ''), '{}', 1)).rejects.toThrow();
    await expect(first.wire.subscribe([METHODS_FILTER])).rejects.toThrow();
    await second.wire.end();
  });

  it('names the host in SNI as mqtt.js does, and no name for an address', async () => {
    // Only the TLS handshake matters here: a bare TLS server with the emulator's certificate sees it.
    const certDir = process.env.IOTHUB_EMULATOR_TEST_CERT_DIR!;
    const seen: (string | false)[] = [];
    const server = tls.createServer(
      { cert: readFileSync(path.join(certDir, 'server.pem')), key: readFileSync(path.join(certDir, 'server-key.pem')) },
      (socket) => {
        seen.push((socket as tls.TLSSocket & { servername: string | false }).servername);
        socket.destroy();
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const host of ['localhost', '127.0.0.1']) {
        const { closed } = open({ ...(await options('w-sni')), host, port });
        await closed;
      }
      expect(seen).toEqual(['localhost', false]);
    } finally {
      server.close();
    }
  });
});
