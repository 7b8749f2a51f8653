#!/usr/bin/env node
import { Command, Option } from 'commander';
import path from 'node:path';
// The light part of the emulator's face: the hub itself, the seed reader and the fleet are loaded
// only by the commands that run them, so the client commands (device, twin, …) start in a third
// of the time.
import {
  CA_DIR_ENV,
  CLOCK_MAX_OFFSET_SECONDS,
  c2dLimits,
  EVENT_HUB_MAX_PARTITIONS,
  DEFAULT_DASHBOARD_PORT,
  defaultOptions,
  defaultRecordingOptions,
  entryKinds,
  errorMessage,
  monitor,
  parseQueryIndexPaths,
  QUERY_INDEX_BUILDS,
  parseTier,
  readCa,
  RemoteHub,
  tierNames,
  type EntryKind,
  type HubOptions,
} from '../emulator/client.js';
import type { Seed } from '../emulator/index.js';
import { registerFleetCommand } from '../fleet/cli.js';
import { demoFleetSize } from '../fleet/demo-size.js';
import { deviceCommandsHint, registerClientCommands } from './register.js';
import type { Hub } from './start-hub.js';
import type { Dashboard } from '../dashboard/index.js';

const env = (name: string): string => `IOTHUB_EMULATOR_${name}`;
const seconds = (value: string): number => {
  const n = Number(value);
  // Up to the clock's own cap, as POST /$emulator/clock/advance allows.
  if (!Number.isFinite(n) || n < 0 || n > CLOCK_MAX_OFFSET_SECONDS)
    throw new Error(`'${value}' is not a number of seconds from 0 to 100 years (the clock only moves forward)`);
  return n;
};
const count = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`'${value}' is not a whole number ≥ 0`);
  return n;
};
const positive = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`'${value}' is not a whole number ≥ 1`);
  return n;
};
const partitionCount = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > EVENT_HUB_MAX_PARTITIONS)
    throw new Error(`'${value}' is not a partition count from 1 to ${EVENT_HUB_MAX_PARTITIONS}`);
  return n;
};
const c2dTtl = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n * 1000 > c2dLimits.maxTtlMs)
    throw new Error(`'${value}' is not a TTL in seconds from 1 to ${c2dLimits.maxTtlMs / 1000}`);
  return n;
};
const c2dDeliveryCount = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > c2dLimits.maxDeliveryCountLimit)
    throw new Error(`'${value}' is not a delivery count from 1 to ${c2dLimits.maxDeliveryCountLimit}`);
  return n;
};
const abovezero = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`'${value}' is not a number above 0`);
  return n;
};
const positiveSeconds = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new Error(`'${value}' is not a number of seconds above 0 and at most 3600`);
  return n;
};
const int = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`'${value}' is not a port number`);
  return n;
};

function bool(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on', ''].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new Error(`'${value}' is not true or false`);
}

/** The options every command that locates the hub shares. */
function hubOptions(command: Command, hostHelp = 'the address the emulator listens on (connection strings say localhost for 127.0.0.1)'): Command {
  return command
    .addOption(new Option('--host <address>', hostHelp).env(env('HOST')).default(defaultOptions.host))
    .addOption(new Option('--hostname <name>', 'host name in connection strings and the certificate (default: localhost, or --host)').env(env('HOSTNAME')))
    .addOption(new Option('--data-dir <dir>', 'where state and certificates live').env(env('DATA_DIR')).default('./.iothub-emulator'));
}

const program = new Command()
  .name('iothub-emulator')
  .description('A local, offline, wire-compatible Azure IoT Hub for the official Azure IoT SDKs.')
  .showHelpAfterError();

hubOptions(
  program
    .command('start', { isDefault: true })
    .description('run the hub (HTTPS REST + MQTT/AMQP over WebSocket, MQTT over TLS, AMQP over TLS with the Event Hubs-compatible endpoint)'),
  'address to listen on (connection strings then say localhost for 127.0.0.1)',
)
  .addOption(
    new Option('--https-port <port>', 'HTTPS port for the REST API and MQTT over WebSocket (the service SDK always calls 443)')
      .env(env('HTTPS_PORT'))
      .default(defaultOptions.httpsPort)
      .argParser(int),
  )
  .addOption(new Option('--mqtt-port <port>', 'MQTT over TLS port').env(env('MQTT_PORT')).default(defaultOptions.mqttPort).argParser(int))
  .addOption(new Option('--mqtt-plain-port <port>', 'also serve plain-TCP MQTT for non-SDK tools (off by default)').env(env('MQTT_PLAIN_PORT')).argParser(int))
  // An optional value, so IOTHUB_EMULATOR_IN_MEMORY=false means false (commander treats any
  // value of a plain flag's variable as true).
  .addOption(
    new Option('--in-memory [bool]', 'keep state in memory only (certificates still go to the data directory)')
      .env(env('IN_MEMORY'))
      .default(false)
      .argParser(bool),
  )
  .addOption(
    new Option(
      '--ca-dir <dir>',
      'where the local CA lives, shared by every emulator of this user (default: ~/.iothub-emulator/ca; `iothub-emulator ca` prints it)',
    ).env(CA_DIR_ENV),
  )
  .addOption(
    new Option('--cert-dir <dir>', 'where the server certificate lives (default: <data-dir>/certs); without --ca-dir the CA is kept there too').env(
      env('CERT_DIR'),
    ),
  )
  .addOption(new Option('--cert-name <name...>', 'extra DNS names or IPs for the server certificate').env(env('CERT_NAMES')).default([]))
  .addOption(
    new Option('--max-active-jobs <n>', 'jobs running at once before 429 ThrottlingMaxActiveJobCountExceeded')
      .env(env('MAX_ACTIVE_JOBS'))
      .default(defaultOptions.maxActiveJobs)
      .argParser(Number),
  )
  .addOption(
    new Option('--tier <tier>', `apply an IoT Hub tier's throttles and daily quota: ${tierNames.join(', ')} (off by default: unlimited)`)
      .env(env('TIER'))
      .argParser(parseTier),
  )
  .addOption(
    new Option('--units <n>', 'units of --tier (F1: 1; S1/S2/B1/B2: 1–200; S3/B3: 1–10)').env(env('UNITS')).default(defaultOptions.units).argParser(count),
  )
  .addOption(
    new Option('--throttle-backlog <ms>', 'with --tier, how long a burst is queued and answered late before 429 ThrottlingException')
      .env(env('THROTTLE_BACKLOG'))
      .default(defaultOptions.throttleBacklogMs)
      .argParser(count),
  )
  .addOption(
    new Option('--clock-offset <seconds>', "start the emulator's job clock this many seconds ahead of real time (scheduled jobs run early)")
      .env(env('CLOCK_OFFSET'))
      .default(0)
      .argParser(seconds),
  )
  .addOption(
    new Option('--seed <file>', 'JSON or YAML file of devices (tags, desired, reported, keys) applied at start and after every reset; idempotent').env(
      env('SEED'),
    ),
  )
  .addOption(
    new Option('--recording-limit <n>', 'method calls, twin patches and connection events kept for GET /$emulator/recording')
      .env(env('RECORDING_LIMIT'))
      .default(defaultRecordingOptions.recordingLimit)
      .argParser(count),
  )
  .addOption(
    new Option('--telemetry-buffer <n>', 'device-to-cloud messages kept for the recording and `monitor --replay`')
      .env(env('TELEMETRY_BUFFER'))
      .default(defaultRecordingOptions.telemetryBuffer)
      .argParser(count),
  )
  .addOption(
    new Option('--amqp-port <port>', 'AMQP over TLS port (devices on Amqp, the service Client, Event Hubs consumers; the SDKs always use 5671)')
      .env(env('AMQP_PORT'))
      .default(defaultOptions.amqpPort)
      .argParser(int),
  )
  .addOption(
    new Option('--amqp-plain-port <port>', 'also serve plain AMQP, for Event Hubs clients with UseDevelopmentEmulator=true (usually 5672; off by default)')
      .env(env('AMQP_PLAIN_PORT'))
      .argParser(int),
  )
  .addOption(
    new Option('--partitions <n>', 'partitions of the Event Hubs-compatible endpoint')
      .env(env('PARTITIONS'))
      .default(defaultOptions.partitions)
      .argParser(partitionCount),
  )
  .addOption(
    new Option('--event-hub-name <name>', 'the Event Hubs-compatible name (EntityPath) (default: the first label of --hostname)').env(env('EVENT_HUB_NAME')),
  )
  .addOption(
    new Option('--retention-hours <hours>', 'how long the Event Hubs-compatible endpoint keeps events')
      .env(env('RETENTION_HOURS'))
      .default(defaultOptions.retentionHours)
      .argParser(abovezero),
  )
  .addOption(
    new Option('--retention-mb <mb>', 'megabytes of events the Event Hubs-compatible endpoint keeps (an even share per partition; oldest go first)')
      .env(env('RETENTION_MB'))
      .default(defaultOptions.retentionMb)
      .argParser(abovezero),
  )
  .addOption(
    new Option('--c2d-default-ttl <seconds>', 'TTL of a cloud-to-device message sent without an expiry (IoT Hub: 1 to 48 hours; the emulator also takes less)')
      .env(env('C2D_DEFAULT_TTL'))
      .default(defaultOptions.c2dDefaultTtlSeconds)
      .argParser(c2dTtl),
  )
  .addOption(
    new Option('--c2d-max-delivery-count <n>', 'deliveries before a cloud-to-device message is dead-lettered with DeliveryCountExceeded feedback (1 to 100)')
      .env(env('C2D_MAX_DELIVERY_COUNT'))
      .default(defaultOptions.c2dMaxDeliveryCount)
      .argParser(c2dDeliveryCount),
  )
  .addOption(
    new Option('--demo-fleet <n>', 'also run this many simulated lockDoor devices in this process, and print how to call them')
      .env(env('DEMO_FLEET'))
      .argParser(demoFleetSize),
  )
  .addOption(
    new Option('--dashboard-port <port>', 'plain-HTTP port of the web dashboard, on the same --host (0 turns it off)')
      .env(env('DASHBOARD_PORT'))
      .default(DEFAULT_DASHBOARD_PORT)
      .argParser(int),
  )
  .addOption(
    new Option(
      '--mqtt-max-packet-size <bytes>',
      'largest MQTT packet or MQTT-over-WebSocket frame a device may send; larger ones close the connection (IoT Hub: 256 KB messages)',
    )
      .env(env('MQTT_MAX_PACKET_SIZE'))
      .default(defaultOptions.mqttMaxPacketBytes)
      .argParser(positive),
  )
  .addOption(
    new Option('--tls-handshake-timeout <seconds>', 'close a connection whose TLS handshake has not finished this long after it was accepted')
      .env(env('TLS_HANDSHAKE_TIMEOUT'))
      .default(defaultOptions.tlsHandshakeTimeoutMs / 1000)
      .argParser(positiveSeconds),
  )
  .addOption(
    new Option('--max-pending-connections <n>', 'connections per listener that have not authenticated yet; beyond it new ones are closed at once')
      .env(env('MAX_PENDING_CONNECTIONS'))
      .default(defaultOptions.maxPendingConnections)
      .argParser(positive),
  )
  .addOption(
    new Option(
      '--device-cache <records>',
      'device records kept parsed in memory; the others are read from the data directory when used (connected devices always stay)',
    )
      .env(env('DEVICE_CACHE'))
      .default(defaultOptions.deviceCacheSize)
      .argParser(positive),
  )
  .addOption(
    new Option(
      '--query-index <paths>',
      "twin paths indexed from start on, e.g. tags.env,properties.reported.firmware (built as --query-index-build says; others get an index on demand, see --query-index-after); 'off': every query scans",
    )
      .env(env('QUERY_INDEX'))
      .argParser(parseQueryIndexPaths),
  )
  .addOption(
    new Option('--query-index-after <n>', 'queries that must name a twin path before it gets an index on demand (0: only the --query-index paths)')
      .env(env('QUERY_INDEX_AFTER'))
      .default(defaultOptions.queryIndexAfter)
      .argParser(count),
  )
  .addOption(
    new Option(
      '--query-index-build <when>',
      "when the --query-index indexes are built: 'background' from start on, between other work (a query needing them meanwhile waits for the build), or 'first-query': by the first query, in one pass",
    )
      .env(env('QUERY_INDEX_BUILD'))
      .choices(QUERY_INDEX_BUILDS)
      .default(defaultOptions.queryIndexBuild),
  )
  .addOption(new Option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent').env(env('LOG_LEVEL')).default('info'))
  .addOption(new Option('--log-format <format>', 'pretty (default on a terminal) or json').env(env('LOG_FORMAT')).choices(['pretty', 'json']))
  .action(async (opts, command: Command) => {
    const options: Partial<HubOptions> = {
      host: opts.host,
      hostName: opts.hostname,
      httpsPort: opts.httpsPort,
      mqttPort: opts.mqttPort,
      plainMqttPort: opts.mqttPlainPort,
      dataDir: path.resolve(opts.dataDir),
      inMemory: opts.inMemory === true,
      caDir: opts.caDir ? path.resolve(opts.caDir) : undefined,
      certDir: opts.certDir ? path.resolve(opts.certDir) : undefined,
      certNames: typeof opts.certName === 'string' ? opts.certName.split(',') : opts.certName,
      maxActiveJobs: opts.maxActiveJobs,
      amqpPort: opts.amqpPort,
      plainAmqpPort: opts.amqpPlainPort,
      partitions: opts.partitions,
      eventHubName: opts.eventHubName,
      retentionHours: opts.retentionHours,
      retentionMb: opts.retentionMb,
      c2dDefaultTtlSeconds: opts.c2dDefaultTtl,
      c2dMaxDeliveryCount: opts.c2dMaxDeliveryCount,
      mqttMaxPacketBytes: opts.mqttMaxPacketSize,
      tlsHandshakeTimeoutMs: Math.round(opts.tlsHandshakeTimeout * 1000),
      maxPendingConnections: opts.maxPendingConnections,
      tier: opts.tier,
      units: opts.units,
      throttleBacklogMs: opts.throttleBacklog,
      deviceCacheSize: opts.deviceCache,
      queryIndex: opts.queryIndex ?? defaultOptions.queryIndex,
      queryIndexAfter: opts.queryIndexAfter,
      queryIndexBuild: opts.queryIndexBuild,
      logLevel: opts.logLevel,
      logFormat: opts.logFormat,
    };
    const [{ startHub }, { keepSeeded, loadSeedFile }] = await Promise.all([import('./start-hub.js'), import('../emulator/index.js')]);
    let hub: Hub;
    let seed: Seed | undefined;
    try {
      // Read before the hub starts: a broken seed file should not leave a half-started emulator.
      seed = opts.seed ? loadSeedFile(path.resolve(opts.seed)) : undefined;
      hub = await startHub({ ...options, recordingLimit: opts.recordingLimit, telemetryBuffer: opts.telemetryBuffer });
    } catch (error) {
      console.error(`iothub-emulator: ${(error as Error).message}`);
      process.exit(1);
    }
    if (seed) {
      try {
        const result = keepSeeded(hub, seed);
        hub.log.info(
          { seed: path.resolve(opts.seed), created: result.created.length, updated: result.updated.length, unchanged: result.unchanged.length },
          'seed applied',
        );
      } catch (error) {
        console.error(`iothub-emulator: the seed ${opts.seed} could not be applied: ${(error as Error).message}`);
        await hub.stop();
        process.exit(1);
      }
    }
    // Applied before any request can be served: startHub resolved in this same microtask chain.
    if (opts.clockOffset > 0) hub.clock.advance(opts.clockOffset * 1000);
    let dashboard: Dashboard | undefined;
    try {
      if (opts.dashboardPort > 0)
        dashboard = await (await import('../dashboard/index.js')).startDashboard(hub, { host: hub.options.host, port: opts.dashboardPort });
    } catch (error) {
      // A port the user asked for must work; the default one may be someone else's (8080 often is).
      if (command.getOptionValueSource('dashboardPort') === 'default') {
        hub.log.warn(`${(error as Error).message}; the hub runs without its dashboard`);
      } else {
        console.error(`iothub-emulator: ${(error as Error).message}`);
        await hub.stop();
        process.exit(1);
      }
    }
    let demoFleet: Awaited<ReturnType<typeof import('../fleet/demo.js').startDemoFleet>> | undefined;
    let stopping = false;
    const stop = async (signal: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      hub.log.info(`${signal}: stopping`);
      await demoFleet?.stop();
      await dashboard?.stop();
      await hub.stop();
      process.exit(0);
    };
    // Before the banner: whoever reads it may stop us at once (a signal with no listener kills).
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
    printBanner(hub, dashboard);
    if (opts.demoFleet) demoFleet = await (await import('../fleet/demo.js')).startDemoFleet(hub, opts.demoFleet);
  });

/** The options of commands that talk to a running emulator over HTTPS. */
function remoteOptions(command: Command): Command {
  return hubOptions(command)
    .addOption(new Option('--https-port <port>', "the emulator's HTTPS port").env(env('HTTPS_PORT')).default(defaultOptions.httpsPort).argParser(int))
    .addOption(new Option('--ca-dir <dir>', "where the emulator's local CA lives (default: ~/.iothub-emulator/ca)").env(CA_DIR_ENV))
    .addOption(new Option('--cert-dir <dir>', 'the --cert-dir the emulator was started with, if any (its CA is there then)').env(env('CERT_DIR')))
    .addOption(new Option('--ca <file>', "the emulator's CA certificate (default: <ca-dir>/ca.pem)"));
}

function remoteHub(opts: { host: string; hostname?: string; httpsPort: number; caDir?: string; certDir?: string; ca?: string }, policy: string): RemoteHub {
  return new RemoteHub({ host: opts.host, hostName: opts.hostname, httpsPort: opts.httpsPort, ca: readCa(opts), policy });
}

remoteOptions(
  program.command('monitor').description('print device-to-cloud messages, twin changes and connection events as they happen, like az iot hub monitor-events'),
)
  .option('--device <id>', 'only this device')
  .addOption(new Option('--kind <kinds>', `comma-separated: ${entryKinds.join(', ')}`).default('telemetry,twin,connection'))
  .addOption(new Option('--output <format>', 'pretty (indented, as az prints) or json (one event per line)').choices(['pretty', 'json']).default('pretty'))
  .addOption(new Option('--timeout <seconds>', 'stop after this many seconds without an event (0: never)').default(0).argParser(count))
  .option('--replay', 'first print what the emulator still holds (up to --telemetry-buffer messages)')
  .action(async (opts) => {
    const kinds = String(opts.kind)
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
    const unknown = kinds.filter((k) => !entryKinds.includes(k as EntryKind));
    if (unknown.length > 0 || kinds.length === 0) {
      console.error(`iothub-emulator: unknown --kind ${unknown.join(', ')} (use ${entryKinds.join(', ')})`);
      process.exit(2);
    }
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());
    try {
      const hub = remoteHub(opts, 'service');
      const code = await monitor(
        hub,
        {
          deviceId: opts.device,
          kinds: kinds as EntryKind[],
          output: opts.output,
          idleTimeoutSeconds: opts.timeout,
          replay: opts.replay === true,
          hubName: opts.hostname ?? opts.host,
        },
        { event: (text) => process.stdout.write(`${text}\n`), status: (text) => process.stderr.write(`${text}\n`) },
        abort.signal,
      );
      process.exitCode = code;
    } catch (error) {
      console.error(`iothub-emulator: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  });

remoteOptions(
  program.command('reset').description('clear a running emulator: devices, twins, sessions, jobs, recording and metrics (seeded devices come back)'),
).action(async (opts) => {
  try {
    const response = await remoteHub(opts, 'iothubowner').request('POST', '/$emulator/reset');
    if (response.status !== 200) throw new Error(`reset failed (${response.status}): ${errorMessage(response.body)}`);
    const { devicesRemoved } = JSON.parse(response.body) as { devicesRemoved: number };
    console.log(`Reset: ${devicesRemoved} device${devicesRemoved === 1 ? '' : 's'} removed.`);
  } catch (error) {
    console.error(`iothub-emulator: ${(error as Error).message}`);
    process.exitCode = 1;
  }
});

function printBanner(hub: Hub, dashboard: Dashboard | undefined): void {
  const lines = [
    '',
    `iothub-emulator is listening on ${hub.options.host}`,
    `  REST API + MQTT/WebSocket   https://${hub.hostName}:${hub.httpsPort}  (wss://${hub.hostName}:${hub.httpsPort}/$iothub/websocket)`,
    `  MQTT over TLS               mqtts://${hub.hostName}:${hub.mqttPort}`,
    ...(hub.plainMqttPort !== undefined ? [`  MQTT over TCP (no TLS)      mqtt://${hub.hostName}:${hub.plainMqttPort}`] : []),
    `  AMQP over TLS               amqps://${hub.hostName}:${hub.amqpPort}  (AMQP/WebSocket on ${hub.httpsPort})`,
    ...(hub.plainAmqpPort !== undefined ? [`  AMQP over TCP (no TLS)      amqp://${hub.hostName}:${hub.plainAmqpPort}`] : []),
    `  Event Hubs-compatible       ${hub.eventHubName}, ${hub.eventHubs.log.partitionCount} partitions, kept ${hub.options.retentionHours} h / ${hub.options.retentionMb} MB`,
    `  State                       ${hub.options.inMemory ? 'in memory' : hub.options.dataDir}`,
    ...(hub.clock.offset > 0 ? [`  Job clock                   ${hub.clock.offset / 1000} s ahead of real time (GET /$emulator/clock)`] : []),
    '',
    'Hub connection string (iothubowner, a well-known development key):',
    `  ${hub.connectionString()}`,
    '',
    `Trust the emulator's CA (${hub.caPath}) in the shell that runs your SDK app:`,
    `  export NODE_EXTRA_CA_CERTS=${hub.caPath}`,
    '',
    'Event Hubs-compatible connection string (for EventHubConsumerClient, Azure Functions IoT Hub triggers):',
    `  ${hub.eventHubConnectionString()}`,
    ...(hub.plainAmqpPort !== undefined ? ['  without TLS:', `  ${hub.eventHubConnectionString('iothubowner', { plain: true })}`] : []),
    '',
    ...(dashboard ? [`Dashboard: ${dashboard.url}`, ''] : []),
    ...deviceCommandsHint(hub.options.host),
  ];
  console.log(lines.join('\n'));
}

registerFleetCommand(program);
registerClientCommands(program);

program.parseAsync(process.argv).catch((error: Error) => {
  console.error(`iothub-emulator: ${error.message}`);
  process.exit(1);
});
