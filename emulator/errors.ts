import { errorCodes, type ErrorName } from '../protocol/error-codes.js';

/**
 * The one error type services throw: what went wrong, never how it is shown. Each face renders
 * it in its wire's form through error-rendering.ts.
 */
export class HubError extends Error {
  readonly status: number;
  readonly code: number;

  constructor(
    readonly errorName: ErrorName,
    message: string,
    /** details envelope B carries (`info`), e.g. the timeout a method call waited */
    readonly info?: Record<string, unknown>,
  ) {
    super(message);
    this.status = errorCodes[errorName].status;
    this.code = errorCodes[errorName].code;
  }
}

export const argumentInvalid = (message: string): HubError => new HubError('ArgumentInvalid', message);
export const deviceNotFound = (deviceId: string): HubError => new HubError('DeviceNotFound', `Device ${deviceId} could not be found.`);
export const moduleNotFound = (deviceId: string, moduleId: string): HubError =>
  new HubError('ModuleNotFound', `Module ${moduleId} on device ${deviceId} could not be found.`);
