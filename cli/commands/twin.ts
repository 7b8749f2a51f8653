import type { Command } from 'commander';
import type { TargetOptions } from '../hub-target.js';
import { UsageError } from '../hub-target.js';
import { printRecord, type OutputOptions } from '../output.js';
import { clientCommand, readJson, runCommand } from '../run-command.js';

type Options = TargetOptions & OutputOptions;

/** `twin show|update`, in the shape of `az iot hub device-twin`. */
export function registerTwinCommands(program: Command): void {
  const twin = program.command('twin').description('read and change device twins (tags, desired properties), as az iot hub device-twin does');

  clientCommand(twin.command('show <deviceId>').description("print a device's twin")).action((deviceId: string, opts: Options) =>
    runCommand(opts, async (target, format) => {
      printRecord(format, (await target.registry().getTwin(deviceId)).responseBody.toJSON());
    }),
  );

  clientCommand(
    twin
      .command('update <deviceId> [patch]')
      .description('merge a patch into the twin: {"tags": {…}, "properties": {"desired": {…}}}; a null removes a member')
      .addHelpText(
        'after',
        `\nExamples:\n  iothub-emulator twin update myDeviceId '{"properties":{"desired":{"interval":5}}}'\n  iothub-emulator twin update myDeviceId --desired '{"interval":5}' --tags '{"floor":3}'\n  iothub-emulator twin update myDeviceId --file patch.json     (or @patch.json)`,
      ),
  )
    .option('--file <path>', 'read the patch from this file')
    .option('--desired <json>', 'desired properties to merge (the same as {"properties":{"desired":…}})')
    .option('--tags <json>', 'tags to merge')
    .option('--etag <etag>', "only if the twin's etag is still this (412 PreconditionFailed otherwise)", '*')
    .action((deviceId: string, inline: string | undefined, opts: Options & { file?: string; desired?: string; tags?: string; etag: string }) =>
      runCommand(opts, async (target, format) => {
        const patch = buildPatch(inline, opts);
        const { responseBody } = await target.registry().updateTwin(deviceId, patch, opts.etag);
        printRecord(format, responseBody.toJSON());
      }),
    );
}

function buildPatch(inline: string | undefined, opts: { file?: string; desired?: string; tags?: string }): Record<string, unknown> {
  const given = inline !== undefined || opts.file !== undefined;
  const patch = given ? readJson(inline, opts.file, 'the patch') : {};
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw new UsageError('the patch must be a JSON object');
  const result = { ...(patch as Record<string, unknown>) };
  if (opts.tags !== undefined) result.tags = { ...(result.tags as object), ...object(readJson(opts.tags, undefined, '--tags'), '--tags') };
  if (opts.desired !== undefined) {
    const properties = (result.properties as Record<string, unknown> | undefined) ?? {};
    result.properties = {
      ...properties,
      desired: { ...(properties.desired as object), ...object(readJson(opts.desired, undefined, '--desired'), '--desired') },
    };
  }
  if (Object.keys(result).length === 0) throw new UsageError('nothing to update: give a patch, --file, --desired or --tags');
  return result;
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}
