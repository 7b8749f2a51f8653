import { Option, type Command } from 'commander';
import { eventHubsConnectionString, hubConnectionString } from '../../protocol/connection-string.js';
import { defaultOptions, findPolicy, resolveEventHubName, resolveHostName, wellKnownPolicies } from '../../emulator/client.js';
import { targetOptions } from '../hub-target.js';
import { runCommand } from '../run-command.js';
import { fetchDeviceConnectionString } from './device.js';

/** `connection-string [--device ID] [--policy NAME]`: the hub's (well-known keys) or a device's (asked of the running hub). */
export function registerConnectionStringCommand(program: Command): void {
  targetOptions(
    program
      .command('connection-string')
      .description("print the hub's connection string, a device's (asked of the running emulator), or the Event Hubs-compatible one"),
  )
    .option('--device <id>', "print this device's connection string, as `device connection-string ID` does")
    .addOption(new Option('--policy <name>', 'shared access policy for the hub connection string').default('iothubowner'))
    .option('--event-hubs', 'print the Event Hubs-compatible connection string (for EventHubConsumerClient)')
    .option('--plain', 'with --event-hubs: for the plain AMQP port, with UseDevelopmentEmulator=true')
    .addOption(
      new Option('--amqp-port <port>', 'with --event-hubs: the AMQP port the emulator listens on')
        .env('IOTHUB_EMULATOR_AMQP_PORT')
        .default(defaultOptions.amqpPort)
        .argParser(Number),
    )
    .addOption(
      new Option('--amqp-plain-port <port>', 'with --event-hubs --plain: the plain AMQP port')
        .env('IOTHUB_EMULATOR_AMQP_PLAIN_PORT')
        .default(5672)
        .argParser(Number),
    )
    .addOption(
      new Option('--event-hub-name <name>', 'with --event-hubs: the Event Hubs-compatible name, if the emulator was given one').env(
        'IOTHUB_EMULATOR_EVENT_HUB_NAME',
      ),
    )
    .action(
      async (opts: {
        device?: string;
        policy: string;
        host: string;
        hostname?: string;
        eventHubs?: boolean;
        plain?: boolean;
        amqpPort: number;
        amqpPlainPort: number;
        eventHubName?: string;
      }) => {
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
        if (opts.eventHubs) {
          const entityPath = resolveEventHubName({ host: opts.host, hostName: opts.hostname, eventHubName: opts.eventHubName });
          const port = opts.plain ? opts.amqpPlainPort : opts.amqpPort === 5671 ? undefined : opts.amqpPort;
          console.log(
            eventHubsConnectionString({
              host: hostName,
              port,
              sharedAccessKeyName: policy.keyName,
              sharedAccessKey: policy.primaryKey,
              entityPath,
              developmentEmulator: opts.plain === true,
            }),
          );
          return;
        }
        console.log(hubConnectionString({ hostName, sharedAccessKeyName: policy.keyName, sharedAccessKey: policy.primaryKey }));
      },
    );
}
