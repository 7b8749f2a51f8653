import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../index.js';
import { DeviceClient, Registry, ServiceClient, transports } from './support/sdk.js';
import device from 'azure-iot-device';

// The in-process helper as a user's test file calls it. This file's worker trusts the repo's test
// CA through NODE_EXTRA_CA_CERTS (test/support/global-setup.ts), not the helper's default CA, so
// the first emulator exercises the run-time trust path a jest --runInBand user depends on.
describe('startEmulator', () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator({ seed: { devices: [{ deviceId: 'seeded-1', tags: { site: 'hq' } }] } });
  });
  afterAll(() => emulator?.stop());

  it('trusts its CA at run time when NODE_EXTRA_CA_CERTS did not name it at start', () => {
    const [major, minor] = process.versions.node.split('.').map(Number);
    const hasSetDefault = major > 24 || (major === 24 && minor >= 5) || (major === 22 && minor >= 19) || major === 23;
    expect(emulator.trust).toBe(hasSetDefault ? 'setDefaultCACertificates' : 'createSecureContext');
    expect(emulator.ca).toContain('BEGIN CERTIFICATE');
    expect(emulator.connectionString).toMatch(/^HostName=127\.0\.0\.\d+;SharedAccessKeyName=iothubowner;SharedAccessKey=/);
  });

  it('runs the lockDoor round trip with the unmodified SDKs and records it', async () => {
    const door = await emulator.createDevice('door-7', { tags: { building: '43' }, desired: { lockTimeoutSeconds: 30 } });
    expect(door.connectionString).toBe(`HostName=${emulator.hostName};DeviceId=door-7;SharedAccessKey=${door.primaryKey}`);
    const client = DeviceClient.fromConnectionString(door.connectionString, transports.Mqtt);
    await client.open();
    try {
      client.onDeviceMethod('lockDoor', (request, response) => response.send(200, { locked: true, by: (request.payload as { by: string }).by }));
      const twin = await client.getTwin();
      expect(twin.properties.desired.lockTimeoutSeconds).toBe(30);
      await new Promise<void>((resolve, reject) => twin.properties.reported.update({ locked: false }, (e?: Error) => (e ? reject(e) : resolve())));
      const message = new device.Message(JSON.stringify({ temperature: 21.5 }));
      message.properties.add('alert', 'none');
      await client.sendEvent(message);
      await emulator.waitForSubscription('door-7');

      const service = ServiceClient.fromConnectionString(emulator.connectionString);
      const { result } = await service.invokeDeviceMethod('door-7', { methodName: 'lockDoor', payload: { by: 'alice' }, responseTimeoutInSeconds: 5 });
      expect(result).toEqual({ status: 200, payload: { locked: true, by: 'alice' } });
      await Registry.fromConnectionString(emulator.connectionString).updateTwin('door-7', { properties: { desired: { lockTimeoutSeconds: 10 } } }, '*');

      expect(emulator.recording.methodCalls({ deviceId: 'door-7', methodName: 'lockDoor' })).toMatchObject([
        { kind: 'method', deviceId: 'door-7', payload: { by: 'alice' }, status: 200, response: { locked: true, by: 'alice' } },
      ]);
      expect(emulator.recording.telemetry({ deviceId: 'door-7' })).toMatchObject([
        { payload: { temperature: 21.5 }, encoding: 'json', properties: { alert: 'none' } },
      ]);
      expect(emulator.recording.twinPatches({ deviceId: 'door-7' }).map(({ side, section, patch }) => ({ side, section, patch }))).toEqual([
        { side: 'device', section: 'reported', patch: { locked: false } },
        { side: 'service', section: 'desired', patch: { lockTimeoutSeconds: 10 } },
      ]);
      expect(emulator.recording.connections({ deviceId: 'door-7' }).map((e) => e.event)).toEqual(['connected']);
    } finally {
      await client.close();
    }
    const gone = await emulator.recording.waitFor({ kind: 'connection', deviceId: 'door-7', where: (e) => e.event === 'disconnected' });
    expect(gone.seq).toBeGreaterThan(0);
  });

  it('keeps its own set-up (seed, createDevice) out of the recording and the metrics', async () => {
    await emulator.createDevice('quiet', { desired: { a: 1 }, reported: { b: 2 } });
    expect(emulator.recording.entries({ deviceId: 'quiet' })).toEqual([]);
    expect(emulator.recording.entries({ deviceId: 'seeded-1' })).toEqual([]);
    expect(emulator.hub.registry.get('seeded-1').twin.tags).toEqual({ site: 'hq' });
    await expect(emulator.createDevice('quiet')).rejects.toThrow(/already exists/);
  });

  it('says why a device is not ready for method calls', async () => {
    await expect(emulator.waitForSubscription('seeded-1', 'methods', 50)).rejects.toThrow(
      "Device 'seeded-1' did not subscribe to methods within 50 ms: it is not connected",
    );
  });

  it('says what it saw when waitFor times out', async () => {
    await expect(emulator.recording.waitFor({ kind: 'telemetry', deviceId: 'door-7', where: () => false }, { timeoutMs: 50 })).rejects.toThrow(
      /Timed out after 50 ms waiting for a telemetry entry for 'door-7' matching the predicate; recorded for 'door-7': .*telemetry ×1/,
    );
  });

  it('reset() empties the hub and puts the seed back', async () => {
    await emulator.reset();
    expect(emulator.hub.registry.find('door-7')).toBeUndefined();
    expect(emulator.hub.registry.get('seeded-1').twin.tags).toEqual({ site: 'hq' });
    expect(emulator.recording.entries()).toEqual([]);
  });
});

describe('startEmulator in parallel and with the environment', () => {
  it('gives each emulator its own loopback address', async () => {
    const [a, b] = await Promise.all([startEmulator(), startEmulator()]);
    try {
      expect(a.hostName).not.toBe(b.hostName);
      await a.createDevice('same-id');
      await b.createDevice('same-id');
      const registry = Registry.fromConnectionString(b.connectionString);
      expect((await registry.get('same-id')).responseBody.deviceId).toBe('same-id');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  // Runs after the first emulator patched this process: also proves the patch keeps the CAs that
  // NODE_EXTRA_CA_CERTS gave at start (the handshake below verifies against one of them).
  it("changes nothing when NODE_EXTRA_CA_CERTS already names the emulator's CA at start", async () => {
    const emulator = await startEmulator({ certDir: process.env.IOTHUB_EMULATOR_TEST_CERT_DIR });
    try {
      expect(emulator.trust).toBe('environment');
    } finally {
      await emulator.stop();
    }
  });

  it('listens only inside loopbackRange when one is given, and refuses a range that is not loopback', async () => {
    // Outside 127.0.0.2-251, where the other test files' hubs pick their addresses.
    const first = await startEmulator({ loopbackRange: '127.0.0.252-127.0.0.254' });
    const second = await startEmulator({ loopbackRange: '127.0.0.252-127.0.0.254' });
    try {
      expect(['127.0.0.252', '127.0.0.253', '127.0.0.254']).toContain(first.hub.options.host);
      expect(['127.0.0.252', '127.0.0.253', '127.0.0.254']).toContain(second.hub.options.host);
      expect(second.hub.options.host).not.toBe(first.hub.options.host);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
    await expect(startEmulator({ loopbackRange: '10.0.0.1-10.0.0.9' })).rejects.toThrow(
      /loopbackRange: '10\.0\.0\.1' is not an address 127\.0\.0\.1 to 127\.0\.0\.254/,
    );
    await expect(startEmulator({ loopbackRange: '127.0.0.9-127.0.0.3' })).rejects.toThrow(/ends before it starts/);
  });
});
