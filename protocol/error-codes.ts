// IoT Hub's error vocabulary (docs/protocol.md §3.8, §9). Clients key on the textual name in
// `iothub-errorcode` and in `ErrorCode:<Name>;…`; the number appears in envelope B bodies.
export const errorCodes = {
  ArgumentInvalid: { code: 400004, status: 400 },
  ArgumentNull: { code: 400005, status: 400 },
  IotHubFormatError: { code: 400006, status: 400 },
  DeviceDefinedMultipleTimes: { code: 400011, status: 400 },
  DeserializationError: { code: 400012, status: 400 },
  BulkRegistryOperationFailure: { code: 400013, status: 400 },
  IotHubUnauthorizedAccess: { code: 401002, status: 401 },
  IotHubUnauthorized: { code: 401003, status: 401 },
  IotHubQuotaExceeded: { code: 403002, status: 403 },
  DeviceMaximumQueueDepthExceeded: { code: 403004, status: 403 },
  DeviceNotFound: { code: 404001, status: 404 },
  JobNotFound: { code: 404002, status: 404 },
  ConfigurationNotFound: { code: 404301, status: 404 },
  ModuleNotFound: { code: 404010, status: 404 },
  DeviceNotOnline: { code: 404103, status: 404 },
  NotFound: { code: 404000, status: 404 },
  MethodNotAllowed: { code: 405000, status: 405 },
  DeviceAlreadyExists: { code: 409001, status: 409 },
  JobAlreadyExists: { code: 409003, status: 409 },
  ModuleAlreadyExistsOnDevice: { code: 409301, status: 409 },
  // EMULATOR CHOICE (docs/protocol.md §17): the spec names no code for this; the 409 family's generic number.
  ConfigurationAlreadyExists: { code: 409000, status: 409 },
  PreconditionFailed: { code: 412001, status: 412 },
  MessageTooLarge: { code: 413001, status: 413 },
  TooManyDevices: { code: 413002, status: 413 },
  TooManyModulesOnDevice: { code: 413003, status: 413 },
  ThrottlingException: { code: 429001, status: 429 },
  ThrottlingMaxActiveJobCountExceeded: { code: 429004, status: 429 },
  ServerError: { code: 500001, status: 500 },
  JobCancelled: { code: 500002, status: 500 },
  InvalidResponseWhileProxying: { code: 502001, status: 502 },
  ServiceUnavailable: { code: 503001, status: 503 },
  GatewayTimeout: { code: 504101, status: 504 },
} as const;

export type ErrorName = keyof typeof errorCodes;
