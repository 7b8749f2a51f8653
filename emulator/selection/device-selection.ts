import type { DeviceRecord } from '../identity/device-record.js';
import { runQuery, type Query } from '../query/index.js';
import { moduleKey, type ModuleRecord } from '../identity/module-record.js';
import type { DeviceStore } from '../store/device-store.js';
import type { ModuleStore } from '../store/module-store.js';
import { twinView } from '../twin/twin-view.js';
import { scanPage, sliceArray, type Page, type PageRequest } from './paging.js';

/** Device-job records in a stable order (the jobs component holds them): all after a rowid, or those of some devices. */
export type DeviceJobRecords = (deviceIds?: readonly string[], afterRowid?: number) => Iterable<{ rowid: number; record: object }>;

/**
 * "Select the devices a query names, page by page", written once: `POST /devices/query` and the
 * job runner both come here. Evaluates compiled queries (query/) over the device set in registry
 * order, reads through the id index when the WHERE pins deviceIds (the hint), and resumes a later
 * page after the key the previous one ended on instead of evaluating everything before it.
 */
export class DeviceSelection {
  constructor(
    private readonly store: DeviceStore,
    private readonly modules: ModuleStore,
  ) {}

  /**
   * The device ids a job condition selects, in registry order. Jobs stay device-only as on the
   * hub (docs/jobs.md), so a `FROM devices.modules` condition (docs/protocol.md §4.6) selects nothing.
   */
  select(query: Query): string[] {
    if (query.source !== 'devices') return [];
    const ids: string[] = [];
    for (const record of this.candidates(query)) {
      if (query.matches(twinView(record))) ids.push(record.deviceId);
    }
    return ids;
  }

  /**
   * The twins a condition selects, by connection key: device ids for `FROM devices`, and
   * `{deviceId}/{moduleId}` for `FROM devices.modules` (configurations target either).
   */
  selectKeys(query: Query): string[] {
    if (query.source === 'devices') return this.select(query);
    if (query.source !== 'devices.modules') return [];
    const keys: string[] = [];
    for (const record of this.moduleCandidates(query)) if (query.matches(twinView(record))) keys.push(moduleKeyOf(record));
    return keys;
  }

  /** The service view of one twin by connection key, or undefined when it does not exist. */
  viewOf(key: string): object | undefined {
    const slash = key.indexOf('/');
    const record = slash < 0 ? this.store.get(key) : this.modules.getByKey(key);
    return record && twinView(record);
  }

  /**
   * How many rows a full query yields (a configuration's metric queries), with each twin seen
   * through `decorate` (which adds the twin's `configurations` statuses).
   */
  count(query: Query, decorate: (key: string, view: object) => object): number {
    const rows: object[] = [];
    if (query.source === 'devices') for (const record of this.candidates(query)) rows.push(decorate(record.deviceId, twinView(record)));
    else if (query.source === 'devices.modules') for (const record of this.moduleCandidates(query)) rows.push(decorate(moduleKeyOf(record), twinView(record)));
    const result = runQuery(query, rows);
    // An aggregate (SELECT COUNT() …) yields one row holding the number.
    if (query.itemType === 'Raw' && result.length === 1) {
      const only = result[0] as Record<string, unknown>;
      const values = Object.values(only);
      if (values.length === 1 && typeof values[0] === 'number' && /count\s*\(/i.test(query.text)) return values[0];
    }
    return result.length;
  }

  /** One page of a query's results, over twins or (given the jobs component's records) device-job records. */
  page(query: Query, page: PageRequest, deviceJobs?: DeviceJobRecords): Page<unknown> {
    switch (query.source) {
      case 'devices': {
        if (query.itemType === 'Raw') {
          const rows: object[] = [];
          for (const record of this.candidates(query)) rows.push(twinView(record));
          return sliceArray(runQuery(query, rows), page);
        }
        // A deviceIds hint reads a handful of twins through the id index instead of scanning.
        if (query.deviceIds) return scanPage(query, this.candidates(query), twinView, undefined, undefined, page.offset, page);
        // Later pages skip the twins before the previous page's last one without evaluating them;
        // if that twin was deleted meanwhile, they fall back to counting matches.
        const resume = typeof page.after === 'string' && this.store.has(page.after) ? page.after : undefined;
        return scanPage(query, this.store.all(), twinView, (record) => record.deviceId, resume, resume === undefined ? page.offset : 0, page);
      }
      case 'devices.jobs': {
        // A hub without a jobs component has no device-job records.
        if (!deviceJobs) return { items: [], more: false };
        if (query.deviceIds) {
          return scanPage(query, deviceJobs(query.deviceIds), (row) => row.record, undefined, undefined, page.offset, page);
        }
        // Device-job records resume after the last rowid, so paging a 10,000-device job reads each record once.
        const after = typeof page.after === 'number' ? page.after : undefined;
        return scanPage(
          query,
          deviceJobs(undefined, after),
          (row) => row.record,
          (row) => row.rowid,
          undefined,
          after === undefined ? page.offset : 0,
          page,
        );
      }
      case 'devices.modules': {
        if (query.itemType === 'Raw') {
          const rows: object[] = [];
          for (const record of this.moduleCandidates(query)) rows.push(twinView(record));
          return sliceArray(runQuery(query, rows), page);
        }
        if (query.deviceIds) return scanPage(query, this.moduleCandidates(query), twinView, undefined, undefined, page.offset, page);
        const resume = typeof page.after === 'string' && this.modules.getByKey(page.after) ? page.after : undefined;
        return scanPage(query, this.modules.all(), twinView, moduleKeyOf, resume, resume === undefined ? page.offset : 0, page);
      }
    }
  }

  /** Module twins in registry order, through the per-device index when the WHERE pins deviceIds. */
  private moduleCandidates(query: Query): Iterable<ModuleRecord> {
    if (!query.deviceIds) return this.modules.all();
    const records: ModuleRecord[] = [];
    for (const id of query.deviceIds) for (const record of this.modules.ofDevice(id)) records.push(record);
    return records;
  }

  /** The records a query can match: those its deviceIds hint names (in that order), else all. */
  private candidates(query: Query): Iterable<DeviceRecord> {
    if (!query.deviceIds) return this.store.all();
    const records: DeviceRecord[] = [];
    for (const id of query.deviceIds) {
      const record = this.store.get(id);
      if (record) records.push(record);
    }
    return records;
  }
}

function moduleKeyOf(record: ModuleRecord): string {
  return moduleKey(record.deviceId, record.moduleId);
}
