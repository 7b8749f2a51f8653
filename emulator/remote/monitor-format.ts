import type { RecordedEntry, TelemetryEntry } from '../operations/recorded-entry.js';

// The device SDKs carry system properties in the topic's property bag under these keys (docs/protocol.md §1.6).
const systemPropertyNames: Record<string, string> = {
  '$.mid': 'message-id',
  '$.cid': 'correlation-id',
  '$.uid': 'user-id',
  '$.to': 'to',
  '$.ct': 'content-type',
  '$.ce': 'content-encoding',
  '$.cdid': 'connection-device-id',
  '$.ifid': 'dt-interface-id',
  '$.sub': 'dt-subject',
};

/**
 * One recorded entry as `az iot hub monitor-events` prints a message: `{"event": {origin,
 * payload, annotations, properties}}`. Twin, connection and lifecycle entries take the shape of
 * IoT Hub's own routed notifications (twinChangeEvents, deviceConnectionStateEvents,
 * deviceLifecycleEvents) so tools that read those read these; method calls, which IoT Hub does
 * not route, are marked with the source `emulator.directMethods`.
 */
export function monitorEvent(entry: RecordedEntry, hubName: string): { event: Record<string, unknown> } {
  // A module's telemetry and connections name it, as monitor-events does.
  const moduleId = (entry.kind === 'telemetry' || entry.kind === 'connection' ? entry.moduleId : undefined) ?? '';
  const base = { origin: entry.deviceId, module: moduleId, interface: '', component: '' };
  switch (entry.kind) {
    case 'telemetry':
      return { event: { ...base, payload: entry.payload, ...telemetryMetadata(entry) } };
    case 'twin': {
      const payload =
        entry.section === 'tags' ? { version: entry.version, tags: entry.patch } : { version: entry.version, properties: { [entry.section]: entry.patch } };
      return { event: { ...base, payload, ...notification('twinChangeEvents', entry, hubName, 'updateTwin', 'twinChangeNotification') } };
    }
    case 'connection':
      return {
        event: {
          ...base,
          payload: { sequenceNumber: String(entry.seq).padStart(20, '0') },
          ...notification(
            'deviceConnectionStateEvents',
            entry,
            hubName,
            entry.event === 'connected' ? 'deviceConnected' : 'deviceDisconnected',
            'deviceConnectionStateNotification',
          ),
        },
      };
    case 'device':
      return {
        event: {
          ...base,
          payload: { deviceId: entry.deviceId },
          ...notification(
            'deviceLifecycleEvents',
            entry,
            hubName,
            entry.event === 'created' ? 'createDeviceIdentity' : 'deleteDeviceIdentity',
            'deviceLifecycleNotification',
          ),
        },
      };
    case 'c2d': {
      const payload: Record<string, unknown> = { event: entry.event };
      for (const key of ['messageId', 'payload', 'ack', 'properties', 'expiryTimeUtc', 'deliveryCount'] as const)
        if (entry[key] !== undefined) payload[key] = entry[key];
      return { event: { ...base, payload, annotations: { 'iothub-message-source': 'emulator.cloudToDeviceMessages', 'iothub-enqueuedtime': entry.time } } };
    }
    case 'method': {
      const payload: Record<string, unknown> = { methodName: entry.methodName, request: entry.payload, durationMs: entry.durationMs };
      if (entry.status !== undefined) Object.assign(payload, { status: entry.status, response: entry.response });
      if (entry.error !== undefined) payload.error = entry.error;
      return { event: { ...base, payload, annotations: { 'iothub-message-source': 'emulator.directMethods', 'iothub-enqueuedtime': entry.time } } };
    }
    case 'throttle':
    case 'fault': {
      // IoT Hub routes neither; marked with sources of the emulator's own, like method calls.
      const { seq: _seq, time, kind, deviceId: _deviceId, ...payload } = entry;
      return {
        event: {
          ...base,
          payload,
          annotations: { 'iothub-message-source': kind === 'throttle' ? 'emulator.throttling' : 'emulator.faults', 'iothub-enqueuedtime': time },
        },
      };
    }
  }
}

function telemetryMetadata(entry: TelemetryEntry): Record<string, unknown> {
  const system: Record<string, string | null> = {};
  const application: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(entry.properties)) {
    if (key.startsWith('$.')) system[systemPropertyNames[key] ?? key.slice(2)] = value;
    else application[key] = value;
  }
  const metadata: Record<string, unknown> = {
    annotations: {
      'iothub-connection-device-id': entry.deviceId,
      ...(entry.moduleId === undefined ? {} : { 'iothub-connection-module-id': entry.moduleId }),
      'iothub-enqueuedtime': entry.enqueuedTime,
      'iothub-message-source': 'Telemetry',
    },
  };
  if (Object.keys(system).length > 0 || Object.keys(application).length > 0) metadata.properties = { system, application };
  return metadata;
}

function notification(source: string, entry: RecordedEntry, hubName: string, opType: string, schema: string): Record<string, unknown> {
  return {
    annotations: { 'iothub-connection-device-id': entry.deviceId, 'iothub-enqueuedtime': entry.time, 'iothub-message-source': source },
    properties: { application: { hubName, deviceId: entry.deviceId, opType, operationTimestamp: entry.time, 'iothub-message-schema': schema } },
  };
}
