import { describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../emulator/identity/device-record.js';
import { openDatabase } from '../../emulator/store/database.js';
import { decodeDevice, encodeDevice } from '../../emulator/store/device-codec.js';
import { DeviceStore } from '../../emulator/store/device-store.js';
import { ModuleStore } from '../../emulator/store/module-store.js';
import { newTwin } from '../../emulator/twin/twin-view.js';
import { deviceRecord } from './support/device-records.js';

// The stored form of a device record (device-codec.ts): every field comes back as it went in,
// and a row written in the earlier form (the record object's JSON) still reads, and is rewritten
// in the compact form by its next save.

function fresh(deviceId: string): DeviceRecord {
  const twin = newTwin('2026-12-01T00:00:00.0000000Z');
  twin.tags = { building: '7', floor: 3 };
  twin.desired.properties = { mode: 'day' };
  return deviceRecord(deviceId, twin);
}

/** Every field set away from its default, edge scopes included. */
function busy(): DeviceRecord {
  const record = fresh('edge-1');
  return {
    ...record,
    etagVersion: 4,
    status: 'disabled',
    statusReason: 'maintenance "window" \\ 3',
    statusUpdatedTime: '2026-12-01T01:00:00.0000000Z',
    authentication: {
      type: 'selfSigned',
      symmetricKey: { primaryKey: null, secondaryKey: null },
      x509Thumbprint: { primaryThumbprint: 'AB', secondaryThumbprint: 'CD' },
    },
    capabilities: { iotEdge: true },
    connectionStateUpdatedTime: '2026-12-01T02:00:00.0000000Z',
    lastActivityTime: '2026-12-01T03:00:00.0000000Z',
    cloudToDeviceMessageCount: 5,
    modelId: 'dtmi:com:example;1',
    deviceScope: 'ms-azure-iot-edge://edge-1-638123456789012345',
    parentScopes: ['ms-azure-iot-edge://edge-0-1'],
  };
}

describe('device record codec', () => {
  it('gives back every field, in the order and shape the registry builds them', () => {
    for (const record of [fresh('d1'), busy(), { ...busy(), capabilities: { iotEdge: false }, deviceScope: '', parentScopes: [] }]) {
      const decoded = decodeDevice(encodeDevice(record));
      expect(decoded).toEqual(record);
      // The JSON of the decoded record is the record's own, key order included (scopes last, as assignScopes adds them).
      expect(JSON.stringify(decoded)).toBe(JSON.stringify(record));
    }
    expect('deviceScope' in decodeDevice(encodeDevice(fresh('d2')))).toBe(false);
  });

  it('is about half the text of the record object for a freshly registered device', () => {
    const record = fresh('scale-0000001');
    expect(encodeDevice(record).length).toBeLessThan(JSON.stringify(record).length * 0.6);
  });

  it('reads a record stored as an object, and a connected record is stored Disconnected', () => {
    const legacy = busy();
    expect(decodeDevice(JSON.stringify(legacy))).toEqual(legacy);
    expect(decodeDevice(encodeDevice({ ...fresh('d3'), connectionState: 'Connected' })).connectionState).toBe('Disconnected');
    expect(() => decodeDevice('[2,"d4"]')).toThrow(/format 2/);
  });

  it('reads rows of the earlier form through the store, and its next save rewrites them compactly', () => {
    const db = openDatabase({ dataDir: '', inMemory: true });
    const legacy = busy();
    db.prepare('INSERT INTO devices (device_id, record, status) VALUES (?, ?, ?)').run(legacy.deviceId, JSON.stringify(legacy), legacy.status);
    const store = new DeviceStore(db, new ModuleStore(db));
    const read = store.get(legacy.deviceId)!;
    expect(read).toEqual(legacy);
    read.twin.tags = { moved: true };
    store.commit([read]);
    const text = db.prepare('SELECT record FROM devices WHERE device_id = ?').pluck().get(legacy.deviceId) as string;
    expect(text.startsWith('[1,')).toBe(true);
    const reopened = new DeviceStore(db, new ModuleStore(db));
    expect(reopened.get(legacy.deviceId)).toEqual({ ...legacy, twin: { ...legacy.twin, tags: { moved: true } } });
  });

  it('gives the background index build the twin parts of rows in either form', () => {
    const db = openDatabase({ dataDir: '', inMemory: true });
    const legacy = busy();
    db.prepare('INSERT INTO devices (device_id, record, status) VALUES (?, ?, ?)').run(legacy.deviceId, JSON.stringify(legacy), legacy.status);
    const compact = fresh('d5');
    db.prepare('INSERT INTO devices (device_id, record, status) VALUES (?, ?, ?)').run(compact.deviceId, encodeDevice(compact), compact.status);
    const store = new DeviceStore(db, new ModuleStore(db));
    const { records } = store.indexSlice(0, 10, { tags: true, desired: true, reported: true });
    expect(records.map((r) => [r.deviceId, r.twin.tags, r.twin.desired, r.twin.reported])).toEqual([
      [legacy.deviceId, legacy.twin.tags, legacy.twin.desired, legacy.twin.reported],
      [compact.deviceId, compact.twin.tags, compact.twin.desired, compact.twin.reported],
    ]);
  });
});
