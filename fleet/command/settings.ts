import { ENGINES, DEFAULT_PREFIX } from '../config.js';

/**
 * Every setting of `iothub-emulator fleet`, once: its flag, its environment variable and its place
 * in a scenario file. Precedence: flag > environment > scenario file > default.
 */
export interface Setting {
  /** commander's attribute name for the flag */
  readonly name: string;
  readonly flags: string;
  readonly env: string;
  /** dotted path in a scenario file; absent for settings a file may not carry */
  readonly file?: string;
  readonly help: string;
  readonly defaultText?: string;
  readonly group: string;
  readonly choices?: readonly string[];
}

const HUB = 'Hub:';
const FLEET = 'Fleet:';
const CONNECT = 'Connecting:';
const SCENARIO = 'Behaviour (for testing back ends):';
const SCALE = 'Scale and output:';

export const ENV_PREFIX = 'IOTHUB_FLEET_';
/** The name Azure's samples use; read when IOTHUB_FLEET_CONNECTION_STRING is not set. */
export const AZURE_CONNECTION_STRING_ENV = 'IOTHUB_CONNECTION_STRING';

const env = (suffix: string): string => `${ENV_PREFIX}${suffix}`;

export const settings: readonly Setting[] = [
  {
    name: 'connectionString',
    flags: '--connection-string <cs>',
    env: env('CONNECTION_STRING'),
    group: HUB,
    help: `hub connection string of a policy with registry write access (also read from ${AZURE_CONNECTION_STRING_ENV})`,
  },
  {
    name: 'ca',
    flags: '--ca <file>',
    env: env('CA'),
    group: HUB,
    help: "trust this CA (PEM) besides the system ones, e.g. the emulator's .iothub-emulator/certs/ca.pem",
  },

  { name: 'devices', flags: '--devices <n>', env: env('DEVICES'), file: 'devices', group: FLEET, help: 'devices in the whole fleet', defaultText: '10' },
  {
    name: 'modulesPerDevice',
    flags: '--modules-per-device <n>',
    env: env('MODULES_PER_DEVICE'),
    file: 'modulesPerDevice',
    group: FLEET,
    help: 'module identities per device, each connecting as its own lockDoor (at most 50)',
    defaultText: '0',
  },
  {
    name: 'prefix',
    flags: '--prefix <text>',
    env: env('PREFIX'),
    file: 'prefix',
    group: FLEET,
    help: 'device ids are the prefix and a zero-padded index',
    defaultText: DEFAULT_PREFIX,
  },
  {
    name: 'engine',
    flags: '--engine <name>',
    env: env('ENGINE'),
    file: 'engine',
    group: FLEET,
    help: 'light: lean MQTT clients, tens of thousands per process; sdk: a real azure-iot-device Client per device',
    defaultText: 'light',
    choices: ENGINES,
  },
  {
    name: 'scenario',
    flags: '--scenario <file>',
    env: env('SCENARIO'),
    group: FLEET,
    help: 'JSON or YAML file with any of the settings below (see docs/fleet.md)',
  },
  {
    name: 'duration',
    flags: '--duration <time>',
    env: env('DURATION'),
    file: 'duration',
    group: FLEET,
    help: 'stop after this long (e.g. 5m); default: until Ctrl-C or SIGTERM',
  },
  {
    name: 'tokenTtl',
    flags: '--token-ttl <time>',
    env: env('TOKEN_TTL'),
    file: 'tokenTtl',
    group: FLEET,
    help: 'SAS token lifetime; devices renew before it ends by reconnecting',
    defaultText: '1h',
  },

  {
    name: 'rate',
    flags: '--rate <per-second>',
    env: env('RATE'),
    file: 'connect.rate',
    group: CONNECT,
    help: 'new connections per second across the fleet (0 = no limit; an S1 hub unit takes ~100/s)',
    defaultText: '0',
  },
  {
    name: 'concurrency',
    flags: '--concurrency <n>',
    env: env('CONCURRENCY'),
    file: 'connect.concurrency',
    group: CONNECT,
    help: 'connection attempts in flight at once',
    defaultText: '100',
  },
  {
    name: 'ramp',
    flags: '--ramp <time>',
    env: env('RAMP'),
    file: 'connect.ramp',
    group: CONNECT,
    help: 'spread the first connections evenly over this long (overrides --rate)',
  },

  {
    name: 'seed',
    flags: '--seed <n>',
    env: env('SEED'),
    file: 'seed',
    group: SCENARIO,
    help: 'seed for every random choice; the same seed gives the same run',
    defaultText: '1',
  },
  {
    name: 'neverConnect',
    flags: '--never-connect <fraction>',
    env: env('NEVER_CONNECT'),
    file: 'neverConnect',
    group: SCENARIO,
    help: 'fraction of devices registered but never connected (0.05 or 5%)',
    defaultText: '0',
  },
  {
    name: 'churn',
    flags: '--churn <fraction>',
    env: env('CHURN'),
    file: 'churn.fraction',
    group: SCENARIO,
    help: 'fraction of devices that keep dropping and reconnecting',
    defaultText: '0',
  },
  {
    name: 'churnInterval',
    flags: '--churn-interval <time|dist>',
    env: env('CHURN_INTERVAL'),
    file: 'churn.interval',
    group: SCENARIO,
    help: 'how long a churning device stays connected',
    defaultText: 'exponential:60s',
  },
  {
    name: 'churnDowntime',
    flags: '--churn-downtime <time|dist>',
    env: env('CHURN_DOWNTIME'),
    file: 'churn.downtime',
    group: SCENARIO,
    help: 'how long it stays away',
    defaultText: '5s',
  },
  {
    name: 'methodLatency',
    flags: '--method-latency <time|dist>',
    env: env('METHOD_LATENCY'),
    file: 'methods.latency',
    group: SCENARIO,
    help: 'delay before a method response: 50ms, uniform:10ms,100ms, normal:50ms,10ms, exponential:40ms',
    defaultText: '0',
  },
  {
    name: 'errorProbability',
    flags: '--error-probability <fraction>',
    env: env('ERROR_PROBABILITY'),
    file: 'methods.errorProbability',
    group: SCENARIO,
    help: 'chance that a method call is answered with --error-status',
    defaultText: '0',
  },
  {
    name: 'errorStatus',
    flags: '--error-status <status>',
    env: env('ERROR_STATUS'),
    file: 'methods.errorStatus',
    group: SCENARIO,
    help: 'status of the injected method errors',
    defaultText: '500',
  },
  {
    name: 'telemetryInterval',
    flags: '--telemetry-interval <time>',
    env: env('TELEMETRY_INTERVAL'),
    file: 'telemetry.interval',
    group: SCENARIO,
    help: 'each device sends telemetry this often (0 = none)',
    defaultText: '0',
  },
  {
    name: 'telemetryTemplate',
    flags: '--telemetry-template <json>',
    env: env('TELEMETRY_TEMPLATE'),
    file: 'telemetry.template',
    group: SCENARIO,
    help: 'message body with {{deviceId}}, {{seq}}, {{timestamp}}, {{doorState}}, {{int 0 100}}, {{number 1 5}}, {{pick a b}}',
  },

  {
    name: 'shard',
    flags: '--shard <k/n>',
    env: env('SHARD'),
    file: 'shard',
    group: SCALE,
    help: 'simulate only the k-th of n equal parts of the device range (for several processes or machines); auto/n takes a part no other fleet holds',
    defaultText: '1/1',
  },
  {
    name: 'workers',
    flags: '--workers <n>',
    env: env('WORKERS'),
    file: 'workers',
    group: SCALE,
    help: 'worker processes holding the connections (0 = this process)',
    defaultText: '1 per 15,000 devices',
  },
  {
    name: 'report',
    flags: '--report <file>',
    env: env('REPORT'),
    group: SCALE,
    help: 'write the final JSON report (counts, method-handling latency percentiles) here',
  },
  {
    name: 'progress',
    flags: '--progress <mode>',
    env: env('PROGRESS'),
    group: SCALE,
    help: 'bar: live display; lines: a status line every 10s; off',
    defaultText: 'bar on a terminal, else lines',
    choices: ['bar', 'lines', 'off'],
  },
];

export const fileKeys: ReadonlyMap<string, string> = new Map(settings.filter((s) => s.file).map((s) => [s.file!, s.name]));
