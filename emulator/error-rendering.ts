import { randomBytes } from 'node:crypto';
import { HubError } from './errors.js';
import { isoTime } from './time.js';

/**
 * The one place that turns a HubError into the bytes a client reads, for every face. The error
 * says what went wrong (name, status, numeric code, message, info); the face that answers picks
 * the form its wire uses.
 *
 * REST (docs/protocol.md §3.9): envelope A, `{"Message":"ErrorCode:<Name>;<text>","ExceptionMessage":"Tracking ID:…"}`,
 * which the Node SDK parses; envelope B, whose `Message` is a JSON string with the numeric
 * errorCode, which the hub uses for the newer paths (a direct method the device did not take or
 * did not answer in time).
 */
export type RestEnvelope = 'A' | 'B';

export interface RestErrorBody {
  Message: string;
  ExceptionMessage: string;
}

/** Anything thrown, as the hub error a client is shown: unexpected failures are a 500 ServerError, never a crash. */
export function asHubError(error: unknown): HubError {
  return error instanceof HubError ? error : new HubError('ServerError', 'An internal error occurred in the emulator.');
}

export function restErrorBody(error: HubError, envelope: RestEnvelope): RestErrorBody {
  const id = trackingId();
  if (envelope === 'B') {
    return {
      Message: JSON.stringify({ errorCode: error.code, trackingId: id, message: error.message, info: error.info ?? {}, timestampUtc: isoTime() }),
      ExceptionMessage: '',
    };
  }
  return { Message: `ErrorCode:${error.errorName};${error.message}`, ExceptionMessage: `Tracking ID:${id}-G:0-TimeStamp:${dotNetTimestamp()}` };
}

/** The headers every REST error carries beside its body. */
export function restErrorHeaders(error: HubError): { 'iothub-errorcode': string } {
  return { 'iothub-errorcode': error.errorName };
}

/**
 * The body of a failed twin operation over MQTT. EMULATOR CHOICE (docs/protocol.md §1.7): the status goes in
 * the topic and the body is JSON with the numeric errorCode, which is what the Node device SDK
 * checks (it ignores the status in the topic).
 */
export function mqttTwinErrorBody(error: HubError): string {
  return JSON.stringify({ errorCode: error.code, message: error.message, trackingId: '', timestampUtc: isoTime() });
}

/** An AMQP error (a rejected delivery's or a detach's): condition, description, and the hub's error name in `info`. */
export interface AmqpErrorBody {
  condition: string;
  description: string;
  info: Record<string, string>;
}

/**
 * A throttle's, the daily quota's or a chaos rule's refusal on an AMQP link (docs/protocol.md §13).
 * The conditions are the ones the hub uses and the SDKs translate: `com.microsoft:device-container-throttled`
 * is `ThrottlingError` on both sides; the quota is `amqp:resource-limit-exceeded` for a device
 * (`IotHubQuotaExceededError`) but `com.microsoft:quota-exceeded` for the service client, where
 * `azure-iothub` reads `amqp:resource-limit-exceeded` as a full device queue.
 */
export function amqpRefusal(error: HubError, side: 'device' | 'service'): AmqpErrorBody {
  return {
    condition: amqpCondition(error, side),
    description: error.message,
    info: { 'com.microsoft:tracking-id': trackingId(), 'iothub-errorcode': error.errorName },
  };
}

function amqpCondition(error: HubError, side: 'device' | 'service'): string {
  switch (error.errorName) {
    case 'ThrottlingException':
      return 'com.microsoft:device-container-throttled';
    case 'IotHubQuotaExceeded':
      return side === 'device' ? 'amqp:resource-limit-exceeded' : 'com.microsoft:quota-exceeded';
    case 'ServiceUnavailable':
      return 'com.microsoft:timeout';
    case 'DeviceNotFound':
      return 'amqp:not-found';
    case 'IotHubUnauthorizedAccess':
    case 'IotHubUnauthorized':
      return 'amqp:unauthorized-access';
    case 'ArgumentInvalid':
      return 'com.microsoft:argument-error';
    default:
      return 'amqp:internal-error';
  }
}

function trackingId(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

function dotNetTimestamp(date = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(date.getUTCMonth() + 1)}/${p(date.getUTCDate())}/${date.getUTCFullYear()} ${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())}`;
}
