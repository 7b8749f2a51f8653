import { Option, type Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import iothub from 'azure-iothub';
import { hubConnectionString, parseHubConnectionString } from '../protocol/connection-string.js';
import { addDefaultCa, CA_DIR_ENV, findPolicy, resolveCaDir, resolveHostName } from '../emulator/client.js';

const { Registry, Client, JobClient } = iothub;

/** The options of every command that calls a hub's service API. */
export interface TargetOptions {
  host: string;
  hostname?: string;
  connectionString?: string;
  ca?: string;
  caDir?: string;
  certDir?: string;
}

/** Adds the options that find the hub (skipping any the command already has, such as `connection-string`'s --host). */
export function targetOptions(command: Command): Command {
  const has = (flag: string): boolean => command.options.some((o) => o.long === flag);
  if (!has('--host')) command.addOption(new Option('--host <address>', 'the address the emulator listens on').env('IOTHUB_EMULATOR_HOST').default('127.0.0.1'));
  if (!has('--hostname'))
    command.addOption(
      new Option('--hostname <name>', 'the host name in its connection strings and certificate (default: localhost for 127.0.0.1, else --host)').env(
        'IOTHUB_EMULATOR_HOSTNAME',
      ),
    );
  command
    .addOption(
      new Option(
        '--connection-string <cs>',
        'any hub (the emulator or Azure IoT Hub): a connection string of a policy with the rights the command needs (default: the emulator at --host, with its well-known iothubowner key)',
      ).env('IOTHUB_CONNECTION_STRING'),
    )
    .addOption(new Option('--ca <file>', "a CA certificate to trust for this call (default: the emulator's CA, <ca-dir>/ca.pem, when it exists)"))
    .addOption(new Option('--ca-dir <dir>', "where the emulator's local CA lives (default: ~/.iothub-emulator/ca)").env(CA_DIR_ENV));
  if (!has('--cert-dir'))
    command.addOption(
      new Option('--cert-dir <dir>', 'the --cert-dir the emulator was started with, if any (its CA is there then)').env('IOTHUB_EMULATOR_CERT_DIR'),
    );
  return command;
}

/**
 * A hub's service API as the official `azure-iothub` SDK reaches it. For the emulator, the
 * connection string is built from the host and the well-known iothubowner key (they are the same
 * on every machine, see emulator/identity/policies.ts), so the CLI needs nothing from the
 * emulator's data directory; the SDK always calls HTTPS port 443 of that host.
 */
export class HubTarget {
  readonly connectionString: string;
  readonly hostName: string;
  /** the CA file this process trusts for the call, when there is one */
  readonly caPath?: string;

  constructor(options: TargetOptions) {
    if (options.connectionString) {
      this.hostName = parseHubConnectionString(options.connectionString).hostName;
      this.connectionString = options.connectionString;
    } else {
      this.hostName = resolveHostName({ host: options.host, hostName: options.hostname });
      const owner = findPolicy('iothubowner')!;
      this.connectionString = hubConnectionString({ hostName: this.hostName, sharedAccessKeyName: owner.keyName, sharedAccessKey: owner.primaryKey });
    }
    const caPath = options.ca ? path.resolve(options.ca) : path.join(resolveCaDir(options), 'ca.pem');
    if (options.ca && !existsSync(caPath)) throw new UsageError(`--ca ${options.ca}: no such file`);
    if (existsSync(caPath)) {
      // The service SDK takes no CA option and brings its own agent: add it to the default trust.
      addDefaultCa(readFileSync(caPath, 'utf8'));
      this.caPath = caPath;
    }
  }

  registry(): InstanceType<typeof Registry> {
    return Registry.fromConnectionString(this.connectionString);
  }

  client(): InstanceType<typeof Client> {
    return Client.fromConnectionString(this.connectionString);
  }

  jobs(): InstanceType<typeof JobClient> {
    return JobClient.fromConnectionString(this.connectionString);
  }
}

/** Bad input on the command line (exit code 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}
