import type { Command } from 'commander';
import { registerCaCommand } from './commands/ca.js';
import { registerConnectionStringCommand } from './commands/connection-string.js';
import { registerDeviceCommands } from './commands/device.js';
import { registerFaultCommands } from './commands/fault.js';
import { registerJobCommands } from './commands/job.js';
import { registerMethodCommands } from './commands/method.js';
import { registerQueryCommand } from './commands/query.js';
import { registerTwinCommands } from './commands/twin.js';
import { packageVersion } from './version.js';

/** The commands that are clients of a running hub (over its service API, never its data directory), plus --version and `ca`. */
export function registerClientCommands(program: Command): Command {
  program.version(packageVersion(), '-V, --version', 'print the version');
  registerConnectionStringCommand(program);
  registerDeviceCommands(program);
  registerTwinCommands(program);
  registerMethodCommands(program);
  registerQueryCommand(program);
  registerJobCommands(program);
  registerFaultCommands(program);
  registerCaCommand(program);
  return program;
}

/** For start's banner: the tutorial's next step, with the --host these commands need to find that emulator. */
export function deviceCommandsHint(listenHost: string): string[] {
  const host = listenHost === '127.0.0.1' || listenHost === '0.0.0.0' ? '' : ` --host ${listenHost}`;
  return [
    'A device for the tutorials (npx iothub-emulator … inside this clone; installed, from any folder: see the README):',
    `  iothub-emulator device create myDeviceId${host} && iothub-emulator device connection-string myDeviceId${host}`,
    '',
  ];
}
