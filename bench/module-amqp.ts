import iothub from 'azure-iothub';
import device from 'azure-iot-device';
import deviceAmqp from 'azure-iot-device-amqp';
import hdr from 'hdr-histogram-js';
import { wellKnownPolicies } from '../emulator/identity/policies.js';
import { createSasToken } from '../protocol/sas.js';
import { startEmulatorProcess } from './support/emulator-process.js';
import type { Bench, BenchRow } from './support/harness.js';
import { provisionDevices, request } from './support/provision.js';

// Another loopback address may be given when a second checkout benchmarks on the same machine.
const HOST = process.env.IOTHUB_EMULATOR_BENCH_MODULE_AMQP_HOST ?? '127.0.0.207';
const CALLS = 2000;
const WARM_UP = 200;

const owner = wellKnownPolicies[0];

type Histogram = ReturnType<typeof hdr.build>;

/**
 * Modules over AMQP (docs/protocol.md §12.3): an azure-iot-device `ModuleClient` on `Amqp` beside
 * its own device's `Client` on `Amqp`, both on the emulator, called in turn in one loop so the
 * machine's drift hits both alike. The device's figure is the baseline: the module path adds
 * only its own link addresses and connection key, so it should cost the same.
 */
export const bench: Bench = {
  name: 'module-amqp',
  description: 'module direct methods and telemetry over AMQP (ModuleClient on Amqp) beside its device on Amqp',
  async run() {
    const certDir = process.env.IOTHUB_EMULATOR_BENCH_CERT_DIR!;
    const emulator = await startEmulatorProcess(HOST, certDir);
    const token = createSasToken(HOST, owner.primaryKey, Math.floor(Date.now() / 1000) + 7200, owner.keyName);
    const rows: BenchRow[] = [];
    const service = iothub.Client.fromConnectionString(`HostName=${HOST};SharedAccessKeyName=${owner.keyName};SharedAccessKey=${owner.primaryKey}`);
    let deviceClient: InstanceType<typeof device.Client> | undefined;
    let moduleClient: InstanceType<typeof device.ModuleClient> | undefined;
    try {
      const [door] = await provisionDevices(HOST, token, ['bench-amqp-door']);
      const moduleKey = (
        (await request(HOST, token, 'PUT', `/devices/${door!.deviceId}/modules/bench-module?api-version=2021-04-12`, { moduleId: 'bench-module' })) as {
          authentication: { symmetricKey: { primaryKey: string } };
        }
      ).authentication.symmetricKey.primaryKey;
      deviceClient = device.Client.fromConnectionString(`HostName=${HOST};DeviceId=${door!.deviceId};SharedAccessKey=${door!.key}`, deviceAmqp.Amqp);
      moduleClient = device.ModuleClient.fromConnectionString(
        `HostName=${HOST};DeviceId=${door!.deviceId};ModuleId=bench-module;SharedAccessKey=${moduleKey}`,
        deviceAmqp.Amqp,
      );
      await Promise.all([deviceClient.open(), moduleClient.open()]);
      deviceClient.onDeviceMethod('lockDoor', (_req, res) => void res.send(200, { locked: true }));
      moduleClient.onMethod('lockDoor', (_req, res) => void res!.send(200, { locked: true }));

      const params = { methodName: 'lockDoor', payload: { by: 'bench' }, responseTimeoutInSeconds: 30, connectTimeoutInSeconds: 30 };
      const [deviceCalls, moduleCalls] = await alternating(
        () => service.invokeDeviceMethod(door!.deviceId, params),
        () => service.invokeDeviceMethod(door!.deviceId, 'bench-module', params),
      );
      rows.push(...pairRows('method round trip', deviceCalls, moduleCalls));

      const deviceSender = deviceClient;
      const moduleSender = moduleClient;
      const [deviceSends, moduleSends] = await alternating(
        () => deviceSender.sendEvent(new device.Message('{"t":21}')),
        () => moduleSender.sendEvent(new device.Message('{"t":21}')),
      );
      rows.push(...pairRows('sendEvent (until accepted)', deviceSends, moduleSends));
    } finally {
      await Promise.all([deviceClient?.close().catch(() => undefined), moduleClient?.close().catch(() => undefined)]);
      await emulator.stop();
    }
    return rows;
  },
};

function pairRows(what: string, deviceSide: Histogram, moduleSide: Histogram): BenchRow[] {
  const p50 = (h: Histogram): number => h.getValueAtPercentile(50) / 1000;
  const p99 = (h: Histogram): string => (h.getValueAtPercentile(99) / 1000).toFixed(2);
  return [
    {
      metric: `AMQP module ${what} p50`,
      value: p50(moduleSide),
      unit: 'ms',
      baseline: p50(deviceSide),
      note: `baseline: its device on Amqp, calls alternating in one loop; p99 module ${p99(moduleSide)}, device ${p99(deviceSide)} ms`,
    },
    {
      metric: `AMQP module / device ${what} p50`,
      value: p50(moduleSide) / p50(deviceSide),
      unit: '×',
      target: '≤ 1.1',
      note: 'within 10 % of the device (same run)',
    },
  ];
}

/** Two operations called in turn (after a warm-up), each into its own microsecond histogram. */
async function alternating(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[Histogram, Histogram]> {
  for (let i = 0; i < WARM_UP; i++) await (i % 2 === 0 ? a() : b());
  const ha = hdr.build({ numberOfSignificantValueDigits: 3 });
  const hb = hdr.build({ numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < CALLS; i++) {
    const [op, h] = i % 2 === 0 ? ([a, ha] as const) : ([b, hb] as const);
    const t0 = performance.now();
    await op();
    h.recordValue(Math.round((performance.now() - t0) * 1000));
  }
  return [ha, hb];
}
