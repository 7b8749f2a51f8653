import type { ModuleRecord } from '../identity/module-record.js';
import { moduleKey } from '../identity/module-record.js';
import { ChangeHooks, type ChangeHook } from './change-hook.js';
import type { Db } from './database.js';

/**
 * Module identities and their twins, kept like devices (DeviceStore): all in memory, written
 * through to SQLite before a call answers. Indexed per device, so a device's modules are listed
 * and deleted with it without a scan, and in one registry order (by `{deviceId}/{moduleId}`
 * insertion) for `FROM devices.modules` queries and their paging.
 */
export class ModuleStore {
  private readonly records = new Map<string, ModuleRecord>();
  private readonly byDevice = new Map<string, Map<string, ModuleRecord>>();
  private readonly upsertStatement;
  private readonly deleteStatement;
  private readonly deleteDeviceStatement;
  private readonly clearStatement;
  // Built once: better-sqlite3 makes a new wrapper for every transaction() call.
  private readonly saveAll;
  private readonly hooks = new ChangeHooks<ModuleRecord>();

  constructor(private readonly db: Db) {
    this.upsertStatement = db.prepare(
      'INSERT INTO modules (device_id, module_id, record) VALUES (?, ?, ?) ON CONFLICT(device_id, module_id) DO UPDATE SET record = excluded.record',
    );
    this.deleteStatement = db.prepare('DELETE FROM modules WHERE device_id = ? AND module_id = ?');
    this.deleteDeviceStatement = db.prepare('DELETE FROM modules WHERE device_id = ?');
    this.clearStatement = db.prepare('DELETE FROM modules');
    this.saveAll = db.transaction((records: readonly ModuleRecord[]) => {
      for (const record of records) this.upsertStatement.run(record.deviceId, record.moduleId, JSON.stringify(record));
    });
    for (const row of db.prepare('SELECT record FROM modules ORDER BY rowid').iterate() as Iterable<{ record: string }>) {
      const record = JSON.parse(row.record) as ModuleRecord;
      record.connectionState = 'Disconnected';
      this.remember(record);
    }
  }

  /** Tells `hook` of every change from now on, keyed `{deviceId}/{moduleId}` (docs/scaling.md §3.2: the query indexes). */
  onChange(hook: ChangeHook<ModuleRecord>): void {
    this.hooks.add(hook);
  }

  /** A change kept in memory only (the connection state, never written through on connect): tells the change hooks. */
  changedInMemory(record: ModuleRecord): void {
    const key = moduleKey(record.deviceId, record.moduleId);
    if (this.records.get(key) === record) this.hooks.changed(key, record);
  }

  get(deviceId: string, moduleId: string): ModuleRecord | undefined {
    return this.byDevice.get(deviceId)?.get(moduleId);
  }

  /** By connection key `{deviceId}/{moduleId}`. */
  getByKey(key: string): ModuleRecord | undefined {
    return this.records.get(key);
  }

  /** A device's modules, in the order they were added. */
  ofDevice(deviceId: string): Iterable<ModuleRecord> {
    return this.byDevice.get(deviceId)?.values() ?? [];
  }

  countOf(deviceId: string): number {
    return this.byDevice.get(deviceId)?.size ?? 0;
  }

  get size(): number {
    return this.records.size;
  }

  all(): IterableIterator<ModuleRecord> {
    return this.records.values();
  }

  keys(): IterableIterator<string> {
    return this.records.keys();
  }

  save(record: ModuleRecord): void {
    if (!this.db.open) return;
    this.upsertStatement.run(record.deviceId, record.moduleId, JSON.stringify(record));
    this.remember(record);
  }

  /** Saves several records in one transaction (a savepoint inside a caller's). */
  saveMany(records: readonly ModuleRecord[]): void {
    if (records.length === 0) return;
    this.saveAll(records);
    for (const record of records) this.remember(record);
  }

  delete(deviceId: string, moduleId: string): boolean {
    this.deleteStatement.run(deviceId, moduleId);
    const modules = this.byDevice.get(deviceId);
    const existed = modules?.delete(moduleId) ?? false;
    if (modules && modules.size === 0) this.byDevice.delete(deviceId);
    const key = moduleKey(deviceId, moduleId);
    if (this.records.delete(key)) this.hooks.changed(key, undefined);
    return existed;
  }

  /** The rows of a device's modules; run inside the registry's transaction that deletes the device. */
  deleteRowsOf(deviceId: string): void {
    if (this.byDevice.has(deviceId)) this.deleteDeviceStatement.run(deviceId);
  }

  /** Forgets a deleted device's modules in memory once its transaction committed; returns their keys. */
  forgetDevice(deviceId: string): string[] {
    const modules = this.byDevice.get(deviceId);
    if (!modules) return [];
    this.byDevice.delete(deviceId);
    const keys: string[] = [];
    for (const moduleId of modules.keys()) {
      const key = moduleKey(deviceId, moduleId);
      this.records.delete(key);
      this.hooks.changed(key, undefined);
      keys.push(key);
    }
    return keys;
  }

  clear(): void {
    this.clearStatement.run();
    this.records.clear();
    this.byDevice.clear();
    this.hooks.cleared();
  }

  private remember(record: ModuleRecord): void {
    const key = moduleKey(record.deviceId, record.moduleId);
    this.records.set(key, record);
    this.hooks.changed(key, record);
    let modules = this.byDevice.get(record.deviceId);
    if (!modules) {
      modules = new Map();
      this.byDevice.set(record.deviceId, modules);
    }
    modules.set(record.moduleId, record);
  }
}
