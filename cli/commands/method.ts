import type { Command } from 'commander';
import type { TargetOptions } from '../hub-target.js';
import { printRecord, type OutputOptions } from '../output.js';
import { clientCommand, readJson, runCommand, seconds } from '../run-command.js';

/** `method invoke`, in the shape of `az iot hub invoke-device-method`. */
export function registerMethodCommands(program: Command): void {
  const method = program.command('method').description('call direct methods on connected devices, as az iot hub invoke-device-method does');
  clientCommand(method.command('invoke <deviceId> <methodName>').description("call a direct method and print the device's status and payload"))
    .option('--payload <json>', 'the request payload, JSON (or @file)', '{}')
    .option('--timeout <seconds>', 'how long the device may take to answer (responseTimeoutInSeconds)', seconds, 30)
    .option('--connect-timeout <seconds>', 'how long to wait for a device that is not connected yet (connectTimeoutInSeconds)', seconds)
    .action((deviceId: string, methodName: string, opts: TargetOptions & OutputOptions & { payload: string; timeout: number; connectTimeout?: number }) =>
      runCommand(opts, async (target, format) => {
        const payload = readJson(opts.payload, undefined, '--payload');
        const { result } = await target.client().invokeDeviceMethod(deviceId, {
          methodName,
          payload,
          responseTimeoutInSeconds: opts.timeout,
          ...(opts.connectTimeout !== undefined ? { connectTimeoutInSeconds: opts.connectTimeout } : {}),
        });
        printRecord(format, result);
      }),
    );
}
