import { Option, type Command } from 'commander';
import { deviceConnectionString } from '../../protocol/connection-string.js';
import { targetOptions, UsageError, type HubTarget, type TargetOptions } from '../hub-target.js';
import { printJson, printList, printRecord, type OutputOptions } from '../output.js';
import { clientCommand, positive, runCommand } from '../run-command.js';

type Options = TargetOptions & OutputOptions;

interface DeviceJson {
  deviceId: string;
  status?: string;
  connectionState?: string;
  lastActivityTime?: string;
  capabilities?: { iotEdge?: boolean };
  authentication?: { type?: string; symmetricKey?: { primaryKey?: string | null; secondaryKey?: string | null } };
}

/** `device create|list|show|delete|connection-string`, in the shape of `az iot hub device-identity`. */
export function registerDeviceCommands(program: Command): void {
  const device = program
    .command('device')
    .description('create, list, show and delete device identities of a running emulator (or any hub), as az iot hub device-identity does');

  clientCommand(device.command('create <deviceId>').description('register a device (symmetric keys are generated unless given)'))
    .option('--edge', 'an IoT Edge device (capabilities.iotEdge)')
    .addOption(new Option('--status <status>', 'enabled or disabled').choices(['enabled', 'disabled']).default('enabled'))
    .option('--status-reason <text>', 'why it has that status')
    .option('--primary-key <key>', 'its primary symmetric key (base64, 16–64 bytes)')
    .option('--secondary-key <key>', 'its secondary symmetric key')
    .action((deviceId: string, opts: Options & { edge?: boolean; status: string; statusReason?: string; primaryKey?: string; secondaryKey?: string }) =>
      runCommand(opts, async (target, format) => {
        const keys = opts.primaryKey || opts.secondaryKey ? { symmetricKey: { primaryKey: opts.primaryKey, secondaryKey: opts.secondaryKey } } : undefined;
        const { responseBody } = await target.registry().create({
          deviceId,
          status: opts.status,
          ...(opts.statusReason ? { statusReason: opts.statusReason } : {}),
          ...(opts.edge ? { capabilities: { iotEdge: true } } : {}),
          ...(keys ? { authentication: keys } : {}),
        } as Parameters<ReturnType<HubTarget['registry']>['create']>[0]);
        printRecord(format, responseBody);
        if (format === 'table') console.error(`\nIts connection string: iothub-emulator device connection-string ${deviceId}`);
      }),
    );

  clientCommand(device.command('list').description('list the devices'))
    .option('--top <n>', 'at most this many', positive)
    .action((opts: Options & { top?: number }) =>
      runCommand(opts, async (target, format) => {
        const { responseBody } = await target.registry().list();
        const devices = (responseBody as unknown as DeviceJson[]).slice(0, opts.top);
        printList(format, devices, [
          { header: 'DeviceId', value: (d) => d.deviceId },
          { header: 'Status', value: (d) => d.status },
          { header: 'ConnectionState', value: (d) => d.connectionState },
          { header: 'Edge', value: (d) => (d.capabilities?.iotEdge ? 'yes' : 'no') },
          { header: 'Auth', value: (d) => d.authentication?.type },
          { header: 'LastActivityTime', value: (d) => d.lastActivityTime },
        ]);
      }),
    );

  clientCommand(device.command('show <deviceId>').description("print a device's identity")).action((deviceId: string, opts: Options) =>
    runCommand(opts, async (target, format) => {
      printRecord(format, (await target.registry().get(deviceId)).responseBody);
    }),
  );

  clientCommand(device.command('delete <deviceId>').description('delete a device (its twin and jobs records go with it)')).action(
    (deviceId: string, opts: Options) =>
      runCommand(opts, async (target, format) => {
        await target.registry().delete(deviceId);
        if (format === 'table') console.log(`Deleted device ${deviceId}.`);
      }),
  );

  registerConnectionString(device.command('connection-string <deviceId>'));
}

/** `device connection-string ID`: plain text (so `$(…)` takes it) unless --json. */
function registerConnectionString(command: Command): void {
  targetOptions(command.description("print a device's connection string, for azure-iot-device's Client.fromConnectionString"))
    .addOption(new Option('--key <which>', 'which of its keys').choices(['primary', 'secondary']).default('primary'))
    .option('--json', 'print {"connectionString": …}')
    .action((deviceId: string, opts: TargetOptions & { key: 'primary' | 'secondary'; json?: boolean }) =>
      runCommand({ ...opts, output: 'table' }, async (target) => {
        const text = await fetchDeviceConnectionString(target, deviceId, opts.key);
        if (opts.json) printJson({ connectionString: text });
        else console.log(text);
      }),
    );
}

/** Asks the hub for the device's key, and writes the connection string a device SDK takes. */
export async function fetchDeviceConnectionString(target: HubTarget, deviceId: string, key: 'primary' | 'secondary' = 'primary'): Promise<string> {
  const { responseBody } = await target.registry().get(deviceId);
  const device = responseBody as unknown as DeviceJson;
  const sharedAccessKey = key === 'primary' ? device.authentication?.symmetricKey?.primaryKey : device.authentication?.symmetricKey?.secondaryKey;
  if (!sharedAccessKey) {
    throw new UsageError(
      `device '${deviceId}' has no ${key} symmetric key (it authenticates with ${device.authentication?.type ?? 'something else'}), so it has no connection string with a key`,
    );
  }
  return deviceConnectionString({ hostName: target.hostName, deviceId, sharedAccessKey });
}
