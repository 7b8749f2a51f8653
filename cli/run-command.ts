import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { HubTarget, targetOptions, UsageError, type TargetOptions } from './hub-target.js';
import { describeError, formatOf, outputOptions, type OutputFormat, type OutputOptions } from './output.js';

/** A command that calls a hub: the options that find it, and the output format. */
export function clientCommand(command: Command): Command {
  return outputOptions(targetOptions(command));
}

/** A flag's value that must be a whole number ≥ 1. */
export function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`'${value}' is not a whole number ≥ 1`);
  return n;
}

/** A number of seconds > 0. */
export function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`'${value}' is not a number of seconds > 0`);
  return n;
}

/**
 * Runs a client command against the hub its options name: prints an error in the hub's words on
 * stderr and sets a non-zero exit code (1 the hub refused, 2 bad input, 3 unreachable/untrusted).
 */
export async function runCommand(options: TargetOptions & OutputOptions, action: (target: HubTarget, format: OutputFormat) => Promise<void>): Promise<void> {
  let target: HubTarget | undefined;
  try {
    target = new HubTarget(options);
    await action(target, formatOf(options));
  } catch (error) {
    const { message, exitCode } = describeError(error, target);
    console.error(`iothub-emulator: ${message}`);
    process.exitCode = exitCode;
  }
}

/** JSON given inline, or read from a file (`--file`, or an argument `@path` as az takes it). */
export function readJson(inline: string | undefined, file: string | undefined, what: string): unknown {
  if (inline !== undefined && file !== undefined) throw new UsageError(`give ${what} either inline or with --file, not both`);
  let text = inline;
  let source = what;
  if (file !== undefined || inline?.startsWith('@')) {
    const name = file ?? inline!.slice(1);
    source = `${what} in ${name}`;
    try {
      text = readFileSync(name, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${name}: ${(error as Error).message}`);
    }
  }
  if (text === undefined) throw new UsageError(`${what} is missing: give it as an argument or with --file`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source} is not valid JSON (${(error as Error).message})`);
  }
}
