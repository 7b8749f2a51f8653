import { Option, type Command } from 'commander';
import { hubConnectionString } from '../../protocol/connection-string.js';
import { findPolicy, resolveHostName, wellKnownPolicies } from '../../emulator/client.js';
import { targetOptions } from '../hub-target.js';
import { runCommand } from '../run-command.js';
import { fetchDeviceConnectionString } from './device.js';

/** `connection-string [--device ID] [--policy NAME]`: the hub's (well-known keys) or a device's (asked of the running hub). */
export function registerConnectionStringCommand(program: Command): void {
  targetOptions(program.command('connection-string').description("print the hub's connection string, or a device's (asked of the running emulator)"))
    .option('--device <id>', "print this device's connection string, as `device connection-string ID` does")
    .addOption(new Option('--policy <name>', 'shared access policy for the hub connection string').default('iothubowner'))
    .action(async (opts: { device?: string; policy: string; host: string; hostname?: string }) => {
      if (opts.device) {
        const deviceId = opts.device;
        return runCommand({ ...opts, output: 'table' }, async (target) => console.log(await fetchDeviceConnectionString(target, deviceId)));
      }
      const policy = findPolicy(opts.policy);
      if (!policy) {
        console.error(`iothub-emulator: no policy '${opts.policy}' (${wellKnownPolicies.map((p) => p.keyName).join(', ')})`);
        process.exit(1);
      }
      const hostName = resolveHostName({ host: opts.host, hostName: opts.hostname });
      console.log(hubConnectionString({ hostName, sharedAccessKeyName: policy.keyName, sharedAccessKey: policy.primaryKey }));
    });
}
