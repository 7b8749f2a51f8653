import { methodRequestTopic } from '../../protocol/topics.js';
import type { DeviceChannel } from '../device-channel.js';
import { HubError, deviceNotFound, moduleNotFound } from '../errors.js';
import type { HubEvents } from '../events.js';
import { moduleKey } from '../identity/module-record.js';
import type { DeviceStore } from '../store/device-store.js';
import type { ModuleStore } from '../store/module-store.js';
import { METHOD_CONNECT_TIMEOUT, METHOD_NAME_MAX_CHARS, METHOD_PAYLOAD_MAX_BYTES, METHOD_RESPONSE_TIMEOUT } from '../limits.js';
import { readMethodResponsePayload } from './method-response-payload.js';

export interface MethodCall {
  methodName: string;
  payload: unknown;
  responseTimeoutInSeconds: number;
  connectTimeoutInSeconds: number;
}

export interface MethodResult {
  status: number;
  payload: unknown;
}

// IoT Hub's rule for direct-method names (emulator/limits.ts METHOD_NAME_MAX_CHARS, docs/protocol.md §3.4):
// printable US-ASCII without the HTTP separators, and without MQTT's wildcards, since the name
// becomes a level of the device's topic `$iothub/methods/POST/{name}/`.
const METHOD_NAME = /^[!%&'*\-.0-9A-Z^_`a-z|~]+$/;

interface Pending {
  /** the connection key the request went to: a device id, or `{deviceId}/{moduleId}` */
  deviceId: string;
  resolve: (result: MethodResult) => void;
  reject: (error: HubError) => void;
  timer: NodeJS.Timeout;
}

/** Validates a `POST /twins/{id}/methods` body (docs/protocol.md §3.4) into a call with defaults applied. */
export function readMethodCall(body: unknown): MethodCall {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HubError('ArgumentInvalid', 'The method invocation body must be a JSON object.');
  }
  const b = body as Record<string, unknown>;
  if (typeof b.methodName !== 'string' || b.methodName.length === 0) {
    throw new HubError('ArgumentNull', 'methodName cannot be null or empty.');
  }
  if (b.methodName.length > METHOD_NAME_MAX_CHARS || !METHOD_NAME.test(b.methodName)) {
    throw new HubError(
      'ArgumentInvalid',
      `methodName ${JSON.stringify(b.methodName)} is invalid: it must be 1 to ${METHOD_NAME_MAX_CHARS} printable US-ASCII characters other than $ ( ) < > @ , ; : \\ " / [ ] ? = { } # +, space and tab.`,
    );
  }
  const responseTimeout = readSeconds(b.responseTimeoutInSeconds, 'responseTimeoutInSeconds', METHOD_RESPONSE_TIMEOUT);
  const connectTimeout = readSeconds(b.connectTimeoutInSeconds, 'connectTimeoutInSeconds', METHOD_CONNECT_TIMEOUT);
  const payload = b.payload === undefined ? null : b.payload;
  if (Buffer.byteLength(JSON.stringify(payload)) > METHOD_PAYLOAD_MAX_BYTES) {
    throw new HubError('MessageTooLarge', `The method payload exceeds the maximum of ${METHOD_PAYLOAD_MAX_BYTES} bytes.`);
  }
  return { methodName: b.methodName, payload, responseTimeoutInSeconds: responseTimeout, connectTimeoutInSeconds: connectTimeout };
}

function readSeconds(value: unknown, name: string, range: { defaultSeconds: number; minSeconds: number; maxSeconds: number }): number {
  const { defaultSeconds: fallback, minSeconds: min, maxSeconds: max } = range;
  // 0 or absent means "the default": the C# SDK omits zero timeouts, Node sends `r || 30`.
  if (value === undefined || value === null || value === 0) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new HubError('ArgumentInvalid', `${name} must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}.`);
  }
  return value;
}

/** Direct methods: one request to the device's connection, correlated by `$rid`, bounded by the timeouts. */
export class MethodService {
  private readonly pending = new Map<string, Pending>();
  private nextRid = 1;

  constructor(
    private readonly store: DeviceStore,
    private readonly modules: ModuleStore,
    private readonly channel: DeviceChannel,
    private readonly events: HubEvents,
  ) {}

  /**
   * Invokes a method on a device, or with `moduleId` on that module (`POST
   * /twins/{id}/modules/{mid}/methods`): the same timeouts, errors and correlation; the request
   * goes to that one module's connection. `answer`, for a face that writes its own answer
   * (rest/direct-method-route.ts), gets the device's result before the `methodInvoked` event goes
   * out (it follows in the same turn): the answer waits neither for the event nor for the
   * promise hops back to the caller.
   */
  async invoke(deviceId: string, call: MethodCall, moduleId?: string, answer?: (result: MethodResult) => void): Promise<MethodResult> {
    if (!this.store.has(deviceId)) throw deviceNotFound(deviceId);
    if (moduleId !== undefined && !this.modules.get(deviceId, moduleId)) throw moduleNotFound(deviceId, moduleId);
    const key = moduleId === undefined ? deviceId : moduleKey(deviceId, moduleId);
    const started = performance.now();
    // The events are written out field by field, not spread from a `{ deviceId, moduleId }`: V8
    // builds a spread followed by more properties the slow way (~350 bytes against ~140), and those
    // events were half of what the method path promoted, which made its scavenges slow
    // (docs/performance.md).
    try {
      const result = await this.dispatch(key, call);
      answer?.(result);
      this.events.emit('methodInvoked', {
        deviceId,
        moduleId,
        methodName: call.methodName,
        payload: call.payload,
        status: result.status,
        response: result.payload,
        durationMs: performance.now() - started,
      });
      return result;
    } catch (error) {
      this.events.emit('methodInvoked', {
        deviceId,
        moduleId,
        methodName: call.methodName,
        payload: call.payload,
        error: (error as Error).message,
        durationMs: performance.now() - started,
      });
      throw error;
    }
  }

  private async dispatch(deviceId: string, call: MethodCall): Promise<MethodResult> {
    if (!this.channel.isSubscribed(deviceId, 'methods')) {
      const online = call.connectTimeoutInSeconds > 0 && (await this.channel.whenSubscribed(deviceId, 'methods', call.connectTimeoutInSeconds * 1000));
      if (!online) throw notOnline(call.connectTimeoutInSeconds);
    }
    // EMULATOR CHOICE (docs/protocol.md §1.6): request ids are short decimal strings, unique per hub run.
    const rid = String(this.nextRid++);
    return new Promise<MethodResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(gatewayTimeout(call.responseTimeoutInSeconds));
      }, call.responseTimeoutInSeconds * 1000);
      this.pending.set(rid, { deviceId, resolve, reject, timer });
      // `null` is sent as the text null: the Node device SDK cannot parse an empty body (docs/protocol.md §0.7).
      const sent = this.channel.send(deviceId, methodRequestTopic(call.methodName, rid), JSON.stringify(call.payload));
      if (!sent) {
        clearTimeout(timer);
        this.pending.delete(rid);
        reject(notOnline(call.connectTimeoutInSeconds));
      }
    });
  }

  /** A device's or module's (by connection key) `$iothub/methods/res/{status}/?$rid=` publish. Late or foreign answers are dropped. */
  handleResponse(deviceId: string, rid: string, status: number, body: Buffer): void {
    const pending = this.pending.get(rid);
    if (!pending || pending.deviceId !== deviceId) return;
    this.pending.delete(rid);
    clearTimeout(pending.timer);
    if (body.length > METHOD_PAYLOAD_MAX_BYTES) {
      pending.reject(new HubError('MessageTooLarge', `The device's method response exceeds the maximum of ${METHOD_PAYLOAD_MAX_BYTES} bytes.`));
      return;
    }
    const read = readMethodResponsePayload(body);
    if (read.ok) {
      pending.resolve({ status, payload: read.payload });
    } else {
      // EMULATOR CHOICE (docs/protocol.md §3.4, "Device method responses"): an answer that is not JSON
      // even in Newtonsoft's lenient dialect fails the call with 502, as on the hub.
      pending.reject(new HubError('InvalidResponseWhileProxying', 'The device answered the method with a payload that is not valid JSON.'));
    }
  }

  close(): void {
    for (const [rid, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new HubError('ServiceUnavailable', 'The hub is shutting down.'));
      this.pending.delete(rid);
    }
  }
}

function notOnline(connectTimeoutSeconds: number): HubError {
  return new HubError(
    'DeviceNotOnline',
    connectTimeoutSeconds > 0
      ? 'Timed out waiting for device to connect.'
      : "The operation failed because the requested device isn't online or hasn't registered the direct method callback. To learn more, see https://aka.ms/iothub404103",
    { timeout: formatTimeSpan(connectTimeoutSeconds) },
  );
}

function gatewayTimeout(seconds: number): HubError {
  return new HubError('GatewayTimeout', 'Timed out waiting for the response from device.', { timeout: formatTimeSpan(seconds) });
}

function formatTimeSpan(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [h, m, s].map((n) => String(n).padStart(2, '0')).join(':');
}
