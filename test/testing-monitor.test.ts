import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import device from 'azure-iot-device';
import type { Hub } from '../emulator/hub.js';
import { startTestHub } from './support/hub-factory.js';
import { exited, runCli } from './support/cli-process.js';
import { connectRaw } from './support/raw-device.js';
import { createDevice, openDevice, registryFor } from './support/sdk.js';
import { waitUntil } from './support/wait.js';

const certDir = (): string => process.env.IOTHUB_EMULATOR_TEST_CERT_DIR!;
type Monitor = ReturnType<typeof runCli>;

function startMonitor(hub: Hub, ...args: string[]): Monitor {
  return runCli(['monitor', '--host', hub.options.host, '--cert-dir', certDir(), ...args]);
}

/** The JSON events printed so far (one per line with --output json). */
function events(monitor: Monitor): { event: Record<string, any> }[] {
  return monitor
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{"event"'))
    .map((line) => JSON.parse(line));
}

async function started(monitor: Monitor): Promise<void> {
  await waitUntil(() => monitor.output().includes('Starting event monitor') || monitor.exitCode !== null, 20_000, 'the monitor to start');
  if (!monitor.output().includes('Starting event monitor')) throw new Error(`the monitor did not start:\n${monitor.output()}`);
}

let hub: Hub;
beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

describe('iothub-emulator monitor', () => {
  it('streams one device’s telemetry, twin changes and connection events, like az iot hub monitor-events', async () => {
    await createDevice(hub, 'mon-a');
    await createDevice(hub, 'mon-b');
    const monitor = startMonitor(hub, '--device', 'mon-a', '--output', 'json');
    try {
      await started(monitor);
      expect(monitor.output()).toContain('Starting event monitor, filtering on device: mon-a, use ctrl-c to stop...');
      const other = await connectRaw(hub, 'mon-b');
      other.publish('devices/mon-b/messages/events/', '{"from":"b"}');
      const client = await openDevice(hub.deviceConnectionString('mon-a'));
      const message = new device.Message(JSON.stringify({ temperature: 21.5 }));
      message.properties.add('alert', 'none');
      message.contentType = 'application/json';
      await client.sendEvent(message);
      await registryFor(hub).updateTwin('mon-a', { properties: { desired: { lockTimeoutSeconds: 10 } } }, '*');
      await client.close();
      other.end(true);
      await waitUntil(() => events(monitor).some((e) => e.event.properties?.application?.opType === 'deviceDisconnected'), 10_000, 'the disconnection event');
    } finally {
      monitor.kill('SIGINT');
    }
    expect(await exited(monitor)).toBe(0);

    const printed = events(monitor);
    expect(printed.every((e) => e.event.origin === 'mon-a')).toBe(true);
    expect(printed.map((e) => e.event.annotations['iothub-message-source'])).toEqual([
      'deviceConnectionStateEvents',
      'Telemetry',
      'twinChangeEvents',
      'deviceConnectionStateEvents',
    ]);
    const [connected, telemetry, twin] = printed;
    expect(connected.event.properties.application).toMatchObject({ opType: 'deviceConnected', deviceId: 'mon-a' });
    expect(telemetry.event).toMatchObject({
      origin: 'mon-a',
      module: '',
      payload: { temperature: 21.5 },
      properties: { system: { 'content-type': 'application/json' }, application: { alert: 'none' } },
    });
    expect(telemetry.event.annotations['iothub-enqueuedtime']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(twin.event.payload).toMatchObject({ properties: { desired: { lockTimeoutSeconds: 10 } } });
    expect(twin.event.properties.application).toMatchObject({ opType: 'updateTwin', 'iothub-message-schema': 'twinChangeNotification' });
  });

  it('--replay first prints the telemetry the emulator still holds, indented like az by default', async () => {
    await createDevice(hub, 'mon-replay');
    const raw = await connectRaw(hub, 'mon-replay');
    raw.publish('devices/mon-replay/messages/events/', '{"early":true}');
    await waitUntil(() => hub.recording.telemetry({ deviceId: 'mon-replay' }).length === 1, 3000, 'the early message');
    raw.end(true);
    const monitor = startMonitor(hub, '--device', 'mon-replay', '--kind', 'telemetry', '--replay', '--timeout', '2');
    expect(await exited(monitor)).toBe(0);
    expect(monitor.output()).toContain('{\n    "event": {\n        "origin": "mon-replay",');
    expect(monitor.output()).toContain('"early": true');
    expect(monitor.output()).toContain('Stopping event monitor: no event for 2 s.');
  });

  it('exits 1 when the emulator goes away, and refuses unknown kinds and a missing CA', async () => {
    const doomed = await startTestHub();
    const monitor = startMonitor(doomed, '--output', 'json');
    await started(monitor);
    await doomed.stop();
    expect(await exited(monitor)).toBe(1);
    expect(monitor.output()).toContain('The emulator closed the event stream');

    const badKind = startMonitor(hub, '--kind', 'telemetry,weather');
    expect(await exited(badKind)).toBe(2);
    expect(badKind.output()).toContain('unknown --kind weather');

    const noCa = runCli(['monitor', '--host', hub.options.host, '--ca-dir', '/nonexistent-iothub-emulator']);
    expect(await exited(noCa)).toBe(1);
    expect(noCa.output()).toContain('No CA certificate at /nonexistent-iothub-emulator/ca.pem');
  });
});
