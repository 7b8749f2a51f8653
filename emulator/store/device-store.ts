import type { DeviceRecord } from '../identity/device-record.js';
import { ChangeHooks, type ChangeHook } from './change-hook.js';
import type { Db } from './database.js';

/** What is owned by a device and goes with it (its modules): rows deleted in the same transaction. */
export interface DeviceDependents {
  deleteRowsOf(deviceId: string): void;
  forgetDevice(deviceId: string): void;
  clear(): void;
}

/**
 * Devices and their twins. All records live in memory (reads and queries never touch SQLite or
 * parse JSON); every change is written through before the caller answers, so a kill loses nothing.
 */
export class DeviceStore {
  private readonly records = new Map<string, DeviceRecord>();
  private readonly upsertStatement;
  private readonly deleteStatement;
  private readonly clearStatement;
  // Built once: better-sqlite3 makes a new wrapper for every transaction() call.
  private readonly commitAll;
  private readonly hooks = new ChangeHooks<DeviceRecord>();

  constructor(
    private readonly db: Db,
    private readonly dependents?: DeviceDependents,
  ) {
    this.upsertStatement = db.prepare('INSERT INTO devices (device_id, record) VALUES (?, ?) ON CONFLICT(device_id) DO UPDATE SET record = excluded.record');
    this.deleteStatement = db.prepare('DELETE FROM devices WHERE device_id = ?');
    this.clearStatement = db.prepare('DELETE FROM devices');
    this.commitAll = db.transaction((records: readonly DeviceRecord[], deviceIds: readonly string[]) => {
      for (const record of records) this.upsertStatement.run(record.deviceId, JSON.stringify(record));
      for (const id of deviceIds) {
        this.deleteStatement.run(id);
        this.dependents?.deleteRowsOf(id);
      }
    });
    for (const row of db.prepare('SELECT record FROM devices').iterate() as Iterable<{ record: string }>) {
      const record = JSON.parse(row.record) as DeviceRecord;
      // Nothing is connected to a hub that just started.
      record.connectionState = 'Disconnected';
      this.records.set(record.deviceId, record);
    }
  }

  /** Tells `hook` of every change from now on (docs/scaling.md §3.2: the query indexes). */
  onChange(hook: ChangeHook<DeviceRecord>): void {
    this.hooks.add(hook);
  }

  /** A change kept in memory only (the connection state, never written through on connect): tells the change hooks. */
  changedInMemory(record: DeviceRecord): void {
    if (this.records.get(record.deviceId) === record) this.hooks.changed(record.deviceId, record);
  }

  get(deviceId: string): DeviceRecord | undefined {
    return this.records.get(deviceId);
  }

  has(deviceId: string): boolean {
    return this.records.has(deviceId);
  }

  get size(): number {
    return this.records.size;
  }

  all(): IterableIterator<DeviceRecord> {
    return this.records.values();
  }

  save(record: DeviceRecord): void {
    // Connections closing while the hub stops still report in; the store is already closed then.
    if (!this.db.open) return;
    this.upsertStatement.run(record.deviceId, JSON.stringify(record));
    this.records.set(record.deviceId, record);
    this.hooks.changed(record.deviceId, record);
  }

  /**
   * Saves `records` and deletes `deviceIds` in one transaction (bulk registry calls, twin-job
   * batches): on disk and in memory, either all of it happened or none. Inside a caller's
   * transaction it is a savepoint of that one.
   */
  commit(records: readonly DeviceRecord[], deviceIds: readonly string[] = []): void {
    if (records.length === 0 && deviceIds.length === 0) return;
    this.commitAll(records, deviceIds);
    for (const record of records) {
      this.records.set(record.deviceId, record);
      this.hooks.changed(record.deviceId, record);
    }
    for (const id of deviceIds) {
      const existed = this.records.delete(id);
      this.dependents?.forgetDevice(id);
      if (existed) this.hooks.changed(id, undefined);
    }
  }

  delete(deviceId: string): boolean {
    const had = this.records.has(deviceId);
    this.commit([], [deviceId]);
    return had;
  }

  clear(): void {
    this.clearStatement.run();
    this.dependents?.clear();
    this.records.clear();
    this.hooks.cleared();
  }
}
