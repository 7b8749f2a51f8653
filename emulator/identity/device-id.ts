import { HubError } from '../errors.js';

// docs/protocol.md §2.2: case-sensitive, ≤ 128 chars, ASCII alphanumerics plus - . + % _ # * ? ! ( ) , = @ $ ' : ;
const VALID_ID = /^[A-Za-z0-9\-.+%_#*?!(),=@$':;]{1,128}$/;

export function validateDeviceId(deviceId: unknown): asserts deviceId is string {
  if (typeof deviceId !== 'string' || deviceId.length === 0) {
    throw new HubError('ArgumentNull', 'DeviceId cannot be null or empty.');
  }
  if (!VALID_ID.test(deviceId)) {
    throw new HubError('ArgumentInvalid', `DeviceId '${deviceId}' is invalid: use at most 128 ASCII letters, digits and - . + % _ # * ? ! ( ) , = @ $ ' : ;`);
  }
}

/** Module ids follow the device id rules (docs/protocol.md §2.2). */
export function validateModuleId(moduleId: unknown): asserts moduleId is string {
  if (typeof moduleId !== 'string' || moduleId.length === 0) {
    throw new HubError('ArgumentNull', 'ModuleId cannot be null or empty.');
  }
  if (!VALID_ID.test(moduleId)) {
    throw new HubError('ArgumentInvalid', `ModuleId '${moduleId}' is invalid: use at most 128 ASCII letters, digits and - . + % _ # * ? ! ( ) , = @ $ ' : ;`);
  }
}
