import { NEVER, type DeviceRecord, type TwinState } from '../../../emulator/identity/device-record.js';
import { newTwin } from '../../../emulator/twin/twin-view.js';

/** A plain enabled SAS device as the registry creates one, with `twin` (a new twin by default), for the store's unit tests. */
export function deviceRecord(deviceId: string, twin: TwinState = newTwin('2026-12-01T00:00:00.0000000Z')): DeviceRecord {
  return {
    deviceId,
    generationId: '638123456789012345',
    etagVersion: 1,
    status: 'enabled',
    statusReason: null,
    statusUpdatedTime: NEVER,
    authentication: {
      type: 'sas',
      symmetricKey: { primaryKey: 'cHJpbWFyeS1rZXktcHJpbWFyeS1rZXk=', secondaryKey: 'c2Vjb25kYXJ5LWtleS1zZWNvbmRhcnk=' },
      x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
    },
    capabilities: { iotEdge: false },
    connectionState: 'Disconnected',
    connectionStateUpdatedTime: NEVER,
    lastActivityTime: NEVER,
    cloudToDeviceMessageCount: 0,
    modelId: '',
    twin,
  };
}
