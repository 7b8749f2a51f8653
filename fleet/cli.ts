import { Option, type Command } from 'commander';
import { FleetError } from './errors.js';
import { resolveConfig } from './command/resolve-config.js';
import { settings } from './command/settings.js';

const EXAMPLES = `
Examples:
  # 1,000 devices against the emulator on this machine (its CA lives in the data directory)
  iothub-emulator fleet --devices 1000 \\
    --connection-string "$(iothub-emulator connection-string)" --ca .iothub-emulator/certs/ca.pem

  # against Azure IoT Hub (an S1 unit accepts ~100 connections/s)
  export IOTHUB_CONNECTION_STRING="HostName=<hub>.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=<key>"
  iothub-emulator fleet --devices 500 --rate 50 --report fleet-report.json

  # flaky devices from a scenario file; three machines share 30,000 devices
  iothub-emulator fleet --devices 30000 --scenario flaky.yaml --shard 2/3

Every flag can also be set by the environment variable shown next to it. Exit codes: 2 bad settings,
3 hub unreachable, 4 credentials refused, 5 hub error, 6 no device could connect.`;

/** Adds `fleet` to the emulator's CLI; everything about the command lives in fleet/. */
export function registerFleetCommand(program: Command): Command {
  const command = program
    .command('fleet')
    .description('simulate lockDoor devices against the emulator or any IoT hub, until stopped')
    .addHelpText('after', EXAMPLES);
  for (const setting of settings) {
    // Defaults are applied after the scenario file is read, so commander only shows them.
    const help = setting.defaultText ? `${setting.help} (default: ${setting.defaultText})` : setting.help;
    const option = new Option(setting.flags, help).env(setting.env).helpGroup(setting.group);
    if (setting.choices) option.choices(setting.choices);
    command.addOption(option);
  }
  command.action(async (options: Record<string, unknown>, self: Command) => {
    let code: number;
    try {
      const resolved = resolveConfig(options, (name) => self.getOptionValueSource(name), process.env, process.stderr.isTTY === true);
      // Loaded when the command runs, so other commands of the CLI do not pay for the fleet.
      const { runFleet } = await import('./command/run-fleet.js');
      code = await runFleet(resolved);
    } catch (error) {
      process.stderr.write(`iothub-emulator fleet: ${(error as Error).message}\n`);
      code = error instanceof FleetError ? error.exitCode : 1;
    }
    process.exit(code);
  });
  return command;
}
