import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DeviceRecord } from '../identity/device-record.js';

/** Reads one device from a data directory without starting a hub (the hub may be running: WAL allows it). */
export function readDeviceRecord(dataDir: string, deviceId: string): DeviceRecord | undefined {
  const file = path.join(dataDir, 'hub.sqlite');
  if (!existsSync(file)) return undefined;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT record FROM devices WHERE device_id = ?').get(deviceId) as { record: string } | undefined;
    return row ? (JSON.parse(row.record) as DeviceRecord) : undefined;
  } finally {
    db.close();
  }
}
