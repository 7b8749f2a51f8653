import iothub from 'azure-iothub';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import hdr from 'hdr-histogram-js';
import { connectBareDevices } from './support/bare-hub.js';
import { ownerConnectionString, startBesideFloor } from './support/beside-floor.js';
import { compareWithFloor, DEFAULT_COMPARE, floorRows } from './support/floor-compare.js';
import type { Bench, BenchRow } from './support/harness.js';
import { connectLeanDevices, disconnectAll } from './support/lean-devices.js';
import { provisionDevices, request } from './support/provision.js';

// Other loopback addresses may be given when a second checkout benchmarks on the same machine.
const HOST = process.env.IOTHUB_EMULATOR_BENCH_METHODS_HOST ?? '127.0.0.201';
const FLOOR_HOST = process.env.IOTHUB_EMULATOR_BENCH_METHODS_FLOOR_HOST ?? '127.0.0.211';
const MODULE_CALLS = 3000;
const FLEET = 1000;

/**
 * Direct methods through azure-iothub `Client.invokeDeviceMethod`, beside their floor: the same
 * calls, from the same load generator in the same process, served by the bare hub
 * (bench/support/bare-hub.ts: a bare HTTPS server forwarding to a bare aedes broker and a bare
 * mqtt.js echo device — no auth, no store, no events). Devices on both sides are bare mqtt.js
 * clients answering at once. Sequential calls go to one device; the closed loop spreads 64
 * calls in flight over 1,000 devices. Both sides run in alternating slices.
 */
export const bench: Bench = {
  name: 'methods',
  description: 'direct-method round trips through azure-iothub Client.invokeDeviceMethod, beside a bare floor',
  async run() {
    const sides = await startBesideFloor(HOST, FLOOR_HOST);
    const { ca, emulator, floor, token } = sides;
    const rows: BenchRow[] = [];
    try {
      const service = iothub.Client.fromConnectionString(ownerConnectionString(HOST));
      const floorService = iothub.Client.fromConnectionString(ownerConnectionString(FLOOR_HOST));
      const params = { methodName: 'lockDoor', payload: { by: 'bench' }, responseTimeoutInSeconds: 30 };

      const ids = Array.from({ length: FLEET }, (_, i) => `bench-m-${String(i).padStart(5, '0')}`);
      const credentials = await provisionDevices(HOST, token, ['bench-door', ...ids]);
      const fleet = await connectLeanDevices({ host: HOST, hostName: HOST, devices: credentials.slice(1), ca });
      const floorFleet = await connectBareDevices(FLOOR_HOST, ca, ids);
      await new Promise((r) => setTimeout(r, 500));

      const figures = await compareWithFloor(
        { pid: emulator.process.pid!, op: (i) => service.invokeDeviceMethod(ids[i % FLEET]!, params) },
        { pid: floor.pid, op: (i) => floorService.invokeDeviceMethod(ids[i % FLEET]!, params) },
      );
      rows.push(
        ...floorRows('invokeDeviceMethod', figures, { p50: '≤ 1.2×', p99: '≤ 1.3×', throughput: '≥ 0.9×', cpu: '≤ 200' }, DEFAULT_COMPARE.inFlight, FLEET),
      );
      await disconnectAll(fleet);
      await Promise.all(floorFleet.map((c) => c.endAsync(true)));

      // A module identity on a lean device, called in turn with its device in one loop: the
      // module round trip beside the device's (the machine's drift hits both alike).
      const door = credentials[0]!;
      const moduleKey = (
        (await request(HOST, token, 'PUT', `/devices/${door.deviceId}/modules/bench-module?api-version=2021-04-12`, { moduleId: 'bench-module' })) as {
          authentication: { symmetricKey: { primaryKey: string } };
        }
      ).authentication.symmetricKey.primaryKey;
      const pair = await connectLeanDevices({
        host: HOST,
        hostName: HOST,
        devices: [door, { deviceId: door.deviceId, moduleId: 'bench-module', key: moduleKey }],
        ca,
      });
      const [deviceSide, moduleSide] = await alternating(
        () => service.invokeDeviceMethod(door.deviceId, params),
        () => service.invokeDeviceMethod(door.deviceId, 'bench-module', params),
      );
      await disconnectAll(pair);
      const p50 = (h: ReturnType<typeof hdr.build>): number => h.getValueAtPercentile(50) / 1000;
      rows.push(
        {
          metric: 'module method round trip p50',
          value: p50(moduleSide),
          unit: 'ms',
          baseline: p50(deviceSide),
          note: `baseline: its device's round trip p50, calls alternating in one loop; p99 module ${(moduleSide.getValueAtPercentile(99) / 1000).toFixed(2)}, device ${(deviceSide.getValueAtPercentile(99) / 1000).toFixed(2)} ms`,
        },
        {
          metric: 'module / device round trip p50',
          value: p50(moduleSide) / p50(deviceSide),
          unit: '×',
          target: '≤ 1.1',
          note: 'within 10 % of a device method (same run)',
        },
      );

      // One azure-iot-device device: the latency a tutorial user sees, device SDK included.
      const sdkDevice = device.Client.fromConnectionString(`HostName=${HOST};DeviceId=${door.deviceId};SharedAccessKey=${door.key}`, deviceMqtt.Mqtt);
      await sdkDevice.open();
      sdkDevice.onDeviceMethod('lockDoor', (_req, res) => res.send(200, { locked: true }));
      await new Promise((r) => setTimeout(r, 300));
      const sdk = hdr.build({ numberOfSignificantValueDigits: 3 });
      for (let i = 0; i < 1200; i++) {
        const t0 = performance.now();
        await service.invokeDeviceMethod(door.deviceId, params);
        if (i >= 200) sdk.recordValue(Math.round((performance.now() - t0) * 1000));
      }
      await sdkDevice.close();
      rows.push({
        metric: 'with an azure-iot-device device: sequential p50',
        value: sdk.getValueAtPercentile(50) / 1000,
        unit: 'ms',
        note: `p99 ${(sdk.getValueAtPercentile(99) / 1000).toFixed(2)} ms; the device SDK's own time included`,
      });
    } finally {
      await sides.stop();
    }
    return rows;
  },
};

/** Two operations called in turn (after a warm-up), each into its own microsecond histogram. */
async function alternating(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[ReturnType<typeof hdr.build>, ReturnType<typeof hdr.build>]> {
  for (let i = 0; i < 200; i++) await (i % 2 === 0 ? a() : b());
  const ha = hdr.build({ numberOfSignificantValueDigits: 3 });
  const hb = hdr.build({ numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < MODULE_CALLS; i++) {
    const [op, h] = i % 2 === 0 ? ([a, ha] as const) : ([b, hb] as const);
    const t0 = performance.now();
    await op();
    h.recordValue(Math.round((performance.now() - t0) * 1000));
  }
  return [ha, hb];
}
