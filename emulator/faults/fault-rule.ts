import { errorCodes, type ErrorName } from '../../protocol/error-codes.js';
import { HubError } from '../errors.js';

/**
 * The chaos API's rule definitions (docs/protocol.md "Throttling and faults"): what a back end or a
 * test asks the hub to do wrong, checked field by field so a bad rule is refused with a 400 that
 * names the field, never half-applied.
 */
export const faultKinds = ['dropConnections', 'refuseConnects', 'failOperations', 'delayPubacks', 'dropTelemetry', 'restart'] as const;
export type FaultKind = (typeof faultKinds)[number];

export const faultOperations = ['methods', 'twinRead', 'twinUpdate', 'rest'] as const;
export type FaultOperation = (typeof faultOperations)[number];

/** Which devices a rule touches: one device, an id prefix, a share of them, or (nothing given) all. */
export interface DeviceTarget {
  deviceId?: string;
  prefix?: string;
  /** 0..1: the share of devices (chosen by a hash of the seed and the id, so the same seed picks the same devices) */
  fraction?: number;
}

export interface FaultRule {
  id: string;
  kind: FaultKind;
  target: DeviceTarget;
  /** failOperations: which operations */
  operation?: FaultOperation;
  /** failOperations with operation "rest": a path prefix (case-insensitive) and optionally an HTTP method */
  route?: string;
  method?: string;
  /** failOperations: the share of matching operations that fail, 0..1 (default 1) */
  fraction: number;
  /** failOperations: the answer (status and IoT Hub error name; either gives the other) */
  status?: number;
  errorCode?: ErrorName;
  /** failOperations, delayPubacks: how long to hold the operation or the PUBACK first */
  delayMs: number;
  /** refuseConnects: the CONNACK return code (1–5, default 3 Server unavailable) */
  connackCode: number;
  /** how long the rule lasts; undefined: until removed (restart: how long the hub stays down, default 5 s) */
  durationSeconds?: number;
  seed: number;
  createdAt: string;
  expiresAt?: string;
}

const statusNames: Record<number, ErrorName> = {
  400: 'ArgumentInvalid',
  401: 'IotHubUnauthorizedAccess',
  403: 'IotHubQuotaExceeded',
  404: 'DeviceNotFound',
  409: 'DeviceAlreadyExists',
  412: 'PreconditionFailed',
  413: 'MessageTooLarge',
  429: 'ThrottlingException',
  500: 'ServerError',
  502: 'InvalidResponseWhileProxying',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

const MAX_DELAY_MS = 300_000;
const MAX_DURATION_SECONDS = 7 * 24 * 3600;

function invalid(field: string, message: string): HubError {
  return new HubError('ArgumentInvalid', `Fault rule field '${field}' ${message}`);
}

function optionalNumber(body: Record<string, unknown>, field: string, min: number, max: number, integer = false): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw invalid(field, `must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`);
  }
  return value;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) throw invalid(field, 'must be a non-empty string of at most 256 characters');
  return value;
}

function readTarget(value: unknown): DeviceTarget {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('target', 'must be an object with deviceId, prefix or fraction');
  const body = value as Record<string, unknown>;
  for (const key of Object.keys(body)) {
    if (!['deviceId', 'prefix', 'fraction'].includes(key)) throw invalid(`target.${key}`, 'is not a known field (deviceId, prefix, fraction)');
  }
  const deviceId = optionalString(body, 'deviceId');
  const prefix = optionalString(body, 'prefix');
  const fraction = optionalNumber(body, 'fraction', 0, 1);
  if (deviceId !== undefined && (prefix !== undefined || fraction !== undefined)) throw invalid('target.deviceId', 'cannot be combined with prefix or fraction');
  return { deviceId, prefix, fraction };
}

const known = new Set(['kind', 'target', 'operation', 'route', 'method', 'fraction', 'status', 'errorCode', 'delayMs', 'connackCode', 'durationSeconds', 'seed']);

/** Checks a rule as POSTed to /$emulator/faults; `id` and times are the caller's. */
export function readFaultRule(input: unknown, id: string, now: Date): FaultRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new HubError('ArgumentInvalid', 'A fault rule must be a JSON object.');
  const body = input as Record<string, unknown>;
  for (const key of Object.keys(body)) if (!known.has(key)) throw invalid(key, `is not a known field (${[...known].join(', ')})`);
  const kind = body.kind;
  if (typeof kind !== 'string' || !faultKinds.includes(kind as FaultKind)) throw invalid('kind', `must be one of ${faultKinds.join(', ')}`);
  const rule: FaultRule = {
    id,
    kind: kind as FaultKind,
    target: readTarget(body.target),
    fraction: optionalNumber(body, 'fraction', 0, 1) ?? 1,
    delayMs: optionalNumber(body, 'delayMs', 0, MAX_DELAY_MS, true) ?? 0,
    connackCode: optionalNumber(body, 'connackCode', 1, 5, true) ?? 3,
    durationSeconds: optionalNumber(body, 'durationSeconds', 0, MAX_DURATION_SECONDS),
    seed: optionalNumber(body, 'seed', 0, 2 ** 31 - 1, true) ?? Math.floor(Math.random() * 2 ** 31),
    createdAt: now.toISOString(),
  };
  const onlyFor = (field: string, kinds: FaultKind[]): void => {
    if (body[field] !== undefined && !kinds.includes(rule.kind)) throw invalid(field, `applies only to ${kinds.join(', ')}`);
  };
  onlyFor('operation', ['failOperations']);
  onlyFor('route', ['failOperations']);
  onlyFor('method', ['failOperations']);
  onlyFor('status', ['failOperations']);
  onlyFor('errorCode', ['failOperations']);
  onlyFor('connackCode', ['refuseConnects']);
  onlyFor('delayMs', ['failOperations', 'delayPubacks']);
  onlyFor('fraction', ['failOperations', 'dropTelemetry', 'delayPubacks']);

  if (rule.kind === 'failOperations') {
    const operation = body.operation;
    if (typeof operation !== 'string' || !faultOperations.includes(operation as FaultOperation)) throw invalid('operation', `must be one of ${faultOperations.join(', ')}`);
    rule.operation = operation as FaultOperation;
    rule.route = optionalString(body, 'route');
    rule.method = optionalString(body, 'method')?.toUpperCase();
    if (rule.operation !== 'rest' && (rule.route !== undefined || rule.method !== undefined)) throw invalid('route', "applies only to operation 'rest'");
    if (rule.route !== undefined && !rule.route.startsWith('/')) throw invalid('route', "must be a path starting with '/'");
    const status = optionalNumber(body, 'status', 400, 599, true);
    const errorCode = optionalString(body, 'errorCode');
    if (errorCode !== undefined && !(errorCode in errorCodes)) throw invalid('errorCode', `must be an IoT Hub error name (${Object.keys(errorCodes).join(', ')})`);
    const named = errorCode as ErrorName | undefined;
    if (named && status !== undefined && errorCodes[named].status !== status) throw invalid('status', `does not match errorCode ${named} (${errorCodes[named].status})`);
    if (status !== undefined && !named && !statusNames[status]) throw invalid('status', `has no IoT Hub error of its own; give errorCode too (${Object.keys(statusNames).join(', ')} have one)`);
    if (status === undefined && !named && rule.delayMs === 0) throw invalid('status', 'or errorCode or delayMs must be given: a rule that fails nothing and delays nothing does nothing');
    rule.errorCode = named ?? (status !== undefined ? statusNames[status] : undefined);
    rule.status = rule.errorCode ? errorCodes[rule.errorCode].status : undefined;
  }
  if (rule.kind === 'delayPubacks' && rule.delayMs === 0) throw invalid('delayMs', 'must be above 0 for delayPubacks');
  if (rule.kind === 'restart') rule.durationSeconds ??= 5;
  if (rule.durationSeconds !== undefined) rule.expiresAt = new Date(now.getTime() + rule.durationSeconds * 1000).toISOString();
  return rule;
}
