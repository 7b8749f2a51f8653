import type { Command } from 'commander';
import { registerCaCommand } from './commands/ca.js';
import { registerDeviceCommands } from './commands/device.js';
import { registerJobCommands } from './commands/job.js';
import { registerMethodCommands } from './commands/method.js';
import { registerQueryCommand } from './commands/query.js';
import { registerTwinCommands } from './commands/twin.js';
import { packageVersion } from './version.js';

/** The commands that are clients of a running hub (over its service API, never its data directory), plus --version and `ca`. */
export function registerClientCommands(program: Command): Command {
  program.version(packageVersion(), '-V, --version', 'print the version');
  registerDeviceCommands(program);
  registerTwinCommands(program);
  registerMethodCommands(program);
  registerQueryCommand(program);
  registerJobCommands(program);
  registerCaCommand(program);
  return program;
}
