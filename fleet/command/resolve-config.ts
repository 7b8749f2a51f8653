import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_PREFIX, DEFAULT_TOKEN_TTL_SECONDS, defaultWorkers, ENGINES, type EngineName, type FleetConfig } from '../config.js';
import { parseShard, rangeSize, shardRange, WHOLE } from '../device-range.js';
import { FleetError } from '../errors.js';
import { parseDistribution } from '../scenario/distribution.js';
import { parseDuration } from '../scenario/duration.js';
import { readScenarioFile } from '../scenario/scenario-file.js';
import { defaultScenario, fraction, methodStatus, positiveNumber, template, wholeNumber, type Scenario } from '../scenario/scenario.js';
import { AZURE_CONNECTION_STRING_ENV, fileKeys, settings } from './settings.js';

export type ProgressMode = 'bar' | 'lines' | 'off';

export interface CommandOptions {
  readonly config: FleetConfig;
  readonly reportFile?: string;
  readonly progress: ProgressMode;
}

/** Where commander found a value: only flags and environment variables outrank the scenario file. */
export type SourceOf = (name: string) => string | undefined;

// The characters IoT Hub allows in a device id.
const DEVICE_ID_CHARACTERS = /^[A-Za-z0-9\-:.+%_#*?!(),=@$']*$/;

export function resolveConfig(
  options: Record<string, unknown>,
  sourceOf: SourceOf,
  environment: NodeJS.ProcessEnv = process.env,
  isTty = false,
): CommandOptions {
  try {
    return resolve(options, sourceOf, environment, isTty);
  } catch (error) {
    if (error instanceof FleetError) throw error;
    throw new FleetError('config', (error as Error).message);
  }
}

function resolve(options: Record<string, unknown>, sourceOf: SourceOf, environment: NodeJS.ProcessEnv, isTty: boolean): CommandOptions {
  const scenarioFile = typeof options.scenario === 'string' ? options.scenario : undefined;
  const fromFile = scenarioFile ? readScenarioFile(scenarioFile, fileKeys) : new Map<string, unknown>();
  const flagOf = new Map(settings.map((s) => [s.name, s.flags.split(' ')[0]]));

  /** The raw value of a setting and the flag to name in an error, or undefined when nobody set it. */
  const raw = (name: string): unknown => {
    const source = sourceOf(name);
    if ((source === 'cli' || source === 'env') && options[name] !== undefined) return options[name];
    return fromFile.get(name);
  };
  const read = <T>(name: string, parse: (value: unknown, what: string) => T, fallback: T): T => {
    const value = raw(name);
    return value === undefined ? fallback : parse(value, flagOf.get(name) ?? name);
  };

  const connectionString = read('connectionString', String, environment[AZURE_CONNECTION_STRING_ENV] ?? '');
  if (!connectionString) {
    throw new FleetError(
      'config',
      `which hub? Pass --connection-string or set ${AZURE_CONNECTION_STRING_ENV} (for the emulator: \`iothub-emulator connection-string\` prints it)`,
    );
  }
  const caFile = read('ca', String, undefined as string | undefined);
  const ca = caFile ? readCa(caFile) : undefined;

  const devices = read('devices', (v, w) => wholeNumber(v, w, 1), 10);
  const modulesPerDevice = read('modulesPerDevice', (v, w) => wholeNumber(v, w, 0), 0);
  if (modulesPerDevice > 50) throw new Error('--modules-per-device: IoT Hub allows at most 50 modules on a device');
  const prefix = read('prefix', prefixText, DEFAULT_PREFIX);
  const engine = read('engine', engineName, 'light' as EngineName);
  const shard = read('shard', (v) => parseShard(String(v)), WHOLE);
  if (shard.count > devices) throw new Error(`--shard: ${shard.count} shards of ${devices} devices would leave some empty`);
  const typicalShard = shard.index === 'auto' ? { index: 1, count: shard.count } : shard;
  const workers = read('workers', (v, w) => wholeNumber(v, w, 0), defaultWorkers(rangeSize(shardRange(devices, typicalShard))));
  const tokenTtlSeconds = read('tokenTtl', (v, w) => Math.round(parseDuration(v, w) / 1000), DEFAULT_TOKEN_TTL_SECONDS);
  if (tokenTtlSeconds < 2) throw new Error('--token-ttl: a token must live at least 2s');
  const durationMs = read('duration', parseDuration, 0);

  const d = defaultScenario;
  const scenario: Scenario = {
    seed: read('seed', integer, d.seed),
    connect: {
      rate: read('rate', positiveNumber, d.connect.rate),
      concurrency: read('concurrency', (v, w) => wholeNumber(v, w, 1), d.connect.concurrency),
      ramp: read('ramp', parseDuration, d.connect.ramp),
    },
    neverConnect: read('neverConnect', fraction, d.neverConnect),
    churn: {
      fraction: read('churn', fraction, d.churn.fraction),
      interval: read('churnInterval', parseDistribution, d.churn.interval),
      downtime: read('churnDowntime', parseDistribution, d.churn.downtime),
    },
    methods: {
      latency: read('methodLatency', parseDistribution, d.methods.latency),
      errorProbability: read('errorProbability', fraction, d.methods.errorProbability),
      errorStatus: read('errorStatus', methodStatus, d.methods.errorStatus),
    },
    telemetry: {
      interval: read('telemetryInterval', parseDuration, d.telemetry.interval),
      template: read('telemetryTemplate', template, d.telemetry.template),
    },
  };

  const reportFile = typeof options.report === 'string' ? path.resolve(options.report) : undefined;
  const progress = read('progress', progressMode, (isTty ? 'bar' : 'lines') as ProgressMode);
  return {
    config: { connectionString, ca, engine, devices, modulesPerDevice, prefix, shard, workers, tokenTtlSeconds, durationMs, scenario },
    reportFile,
    progress,
  };
}

function readCa(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`--ca: cannot read ${file}: ${(error as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`--ca: ${file} holds no PEM certificate`);
  return pem;
}

function integer(value: unknown, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`${what}: '${String(value)}' is not a whole number`);
  return n;
}

function prefixText(value: unknown, what: string): string {
  const text = String(value);
  if (text.length > 100 || !DEVICE_ID_CHARACTERS.test(text)) {
    throw new Error(`${what}: '${text}' cannot start a device id (letters, digits and - : . + % _ # * ? ! ( ) , = @ $ ' only; at most 100)`);
  }
  return text;
}

function engineName(value: unknown, what: string): EngineName {
  const name = String(value) as EngineName;
  if (!ENGINES.includes(name)) throw new Error(`${what}: '${String(value)}' is not an engine (${ENGINES.join(', ')})`);
  return name;
}

function progressMode(value: unknown, what: string): ProgressMode {
  const mode = String(value);
  if (mode !== 'bar' && mode !== 'lines' && mode !== 'off') throw new Error(`${what}: '${mode}' is not bar, lines or off`);
  return mode;
}
