import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { closesWithin, rawTcp, type RawWire } from './support/raw-wire.js';
import { createDevice, openDevice, rest } from './support/sdk.js';

// Issue 17: sockets that never start TLS (or never authenticate) are bounded in time and number
// on every listener (docs/protocol.md §14). A short timeout and a small cap make it testable.
let hub: Hub;
const HANDSHAKE_TIMEOUT_MS = 1500;
const MAX_PENDING = 4;

beforeAll(async () => {
  hub = await startTestHub({ tlsHandshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, maxPendingConnections: MAX_PENDING });
});
afterAll(() => hub?.stop());

describe.each([
  ['MQTT/TLS 8883', () => hub.mqttPort],
  ['HTTPS 443', () => hub.httpsPort],
])('on %s', (_name, port) => {
  it('closes a TCP connection that never sends a ClientHello once the handshake timeout passes', async () => {
    const wire = await rawTcp(hub.options.host, port());
    const started = Date.now();
    expect(await closesWithin(wire, HANDSHAKE_TIMEOUT_MS + 5000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 200);
  });

  it('closes connections beyond the cap of not-yet-authenticated ones at once, and serves again when they are gone', async () => {
    const idle: RawWire[] = [];
    for (let i = 0; i < MAX_PENDING; i++) idle.push(await rawTcp(hub.options.host, port()));
    const extra = await rawTcp(hub.options.host, port());
    // Closed well before the handshake timeout would have closed it.
    expect(await closesWithin(extra, HANDSHAKE_TIMEOUT_MS / 2)).toBe(true);
    expect(idle.some((w) => w.isClosed())).toBe(false);
    for (const w of idle) w.end();
    await Promise.all(idle.map((w) => w.closed));
    // The hub counts them down again: real clients get in.
    await expect.poll(async () => (await rest(hub, 'GET', '/health').catch(() => ({ status: 0 }))).status, { timeout: 5000 }).toBe(200);
  });
});

it('a device connects while idle sockets wait out their handshake timeout below the cap', async () => {
  const idle = [await rawTcp(hub.options.host, hub.mqttPort), await rawTcp(hub.options.host, hub.httpsPort)];
  const client = await openDevice(await createDevice(hub, 'l-ok'));
  try {
    expect((await client.getTwin()).properties.desired.$version).toBe(1);
  } finally {
    await client.close();
    for (const w of idle) w.end();
  }
});
