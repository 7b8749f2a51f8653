import { errorCodes, type ErrorName } from '../protocol/error-codes.js';

/**
 * The one error type services throw. Faces turn it into the hub's REST envelope or an MQTT status.
 * `envelope: 'json'` selects the newer body that direct methods use (docs/protocol.md §3.9 envelope B).
 */
export class HubError extends Error {
  readonly status: number;
  readonly code: number;

  constructor(
    readonly errorName: ErrorName,
    message: string,
    readonly envelope: 'text' | 'json' = 'text',
    readonly info?: Record<string, unknown>,
  ) {
    super(message);
    this.status = errorCodes[errorName].status;
    this.code = errorCodes[errorName].code;
  }
}

export const argumentInvalid = (message: string): HubError => new HubError('ArgumentInvalid', message);
export const deviceNotFound = (deviceId: string): HubError =>
  new HubError('DeviceNotFound', `Device ${deviceId} could not be found.`);
