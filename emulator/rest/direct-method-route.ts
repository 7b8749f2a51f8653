import type { IncomingMessage, ServerResponse } from 'node:http';
import { asHubError, restErrorBody, restErrorHeaders, type RestEnvelope } from '../error-rendering.js';
import { HubError } from '../errors.js';
import type { ServiceAuthenticator } from '../identity/auth.js';
import { readMethodCall, type MethodService } from '../methods/method-service.js';
import { jsonBody, send } from './json.js';
import { closeAfterAnswer, readBody, tooLarge } from './request-body.js';
import { HubGate } from '../faults/hub-gate.js';

// The device form and the module form (`/twins/{id}/modules/{mid}/methods`, docs/protocol.md §3.4).
const ROUTE = /^\/twins\/([^/?]+)(?:\/modules\/([^/?]+))?\/methods\/?(?:\?|$)/i;

/**
 * `POST /twins/{id}/methods` (docs/protocol.md §3.4) served straight from Node's request event. It is the
 * hottest call of the service API (back ends and load tests fire thousands a second), and going
 * through express's layers, body parser and response helpers cost as much CPU as the call's own
 * work. Same contract as every other route: the policy must grant ServiceConnect, bad input gets
 * the hub's error envelope, the answer is JSON with IoT Hub's content type.
 * Returns false for any other request, which then goes to express.
 */
export function directMethodRoute(auth: ServiceAuthenticator, methods: MethodService, gate?: HubGate): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const match = ROUTE.exec(req.url ?? '');
    if (!match) return false;
    let deviceId: string | undefined;
    let moduleId: string | undefined;
    try {
      deviceId = decodeURIComponent(match[1]);
      if (match[2] !== undefined) moduleId = decodeURIComponent(match[2]);
    } catch {
      deviceId = undefined;
    }
    readBody(req, (body) => {
      // The device's result is written as soon as it arrives (`answered`); the resolution below
      // then finds the answer sent. Errors take the rejection path, as before.
      const answered = (result: unknown): void => send(res, 200, result);
      handle(deviceId, moduleId, req, body, answered).then(answered, (error: unknown) => {
        const hubError = asHubError(error);
        // The rest of an oversized body is not read: the connection closes after the answer.
        if (body === undefined) closeAfterAnswer(req, res);
        send(res, hubError.status, restErrorBody(hubError, envelopeFor(hubError)), restErrorHeaders(hubError));
      });
    });
    req.on('error', () => res.destroy());
    return true;
  };

  async function handle(
    deviceId: string | undefined,
    moduleId: string | undefined,
    req: IncomingMessage,
    body: Buffer | undefined,
    answer: (result: unknown) => void,
  ): Promise<unknown> {
    auth.authorize(req.headers.authorization, ['ServiceConnect']);
    if (deviceId === undefined) throw new HubError('ArgumentInvalid', 'The device id in the path is not valid percent-encoding.');
    if (body === undefined) throw tooLarge();
    const call = readMethodCall(jsonBody(body));
    if (gate && !gate.idle) {
      // The throttle meters methods in 4 KB of request (docs/protocol.md §6); chaos rules may delay or fail the call.
      const id = deviceId;
      const units = Math.max(1, Math.ceil(body.length / 4096));
      await HubGate.honour(
        gate.check('methods', () => gate.faults.restFault('POST', req.url ?? '') ?? gate.faults.operationFault('methods', id), units, body.length),
      );
    }
    return methods.invoke(deviceId, call, moduleId, answer);
  }
}

/**
 * The envelope this route answers in (docs/protocol.md §3.9): B for a call the device did not take or did not
 * answer in time (404103 DeviceNotOnline, 504101 GatewayTimeout), as the hub does; A for the rest.
 */
function envelopeFor(error: HubError): RestEnvelope {
  return error.errorName === 'DeviceNotOnline' || error.errorName === 'GatewayTimeout' ? 'B' : 'A';
}
