import { DASHBOARD_MAX_PAGE_ROWS, type DeviceRecord, type RegistryService } from '../../emulator/index.js';

/** One line of the devices table: what is read at a glance, nothing that needs the twin. */
export interface DeviceRow {
  deviceId: string;
  status: 'enabled' | 'disabled';
  connectionState: 'Connected' | 'Disconnected';
  connectionStateUpdatedTime: string;
  lastActivityTime: string;
  authenticationType: string;
  /** module identities on the device */
  modules: number;
}

export interface DeviceFilter {
  /** case-insensitive substring of the device id */
  text?: string;
  status?: 'enabled' | 'disabled';
  connection?: 'Connected' | 'Disconnected';
}

export interface DevicePage {
  /** devices registered */
  total: number;
  /** devices that pass the filter */
  matched: number;
  offset: number;
  rows: DeviceRow[];
}

/** A row of the table; only rows on screen are built, so counting the device's modules is cheap. */
export function deviceRow(record: DeviceRecord, registry: Pick<RegistryService, 'modulesOf'>): DeviceRow {
  return {
    deviceId: record.deviceId,
    status: record.status,
    connectionState: record.connectionState,
    connectionStateUpdatedTime: record.connectionStateUpdatedTime,
    lastActivityTime: record.lastActivityTime,
    authenticationType: record.authentication.type,
    modules: registry.modulesOf(record.deviceId).length,
  };
}

/**
 * A page of the registry, filtered on the server so the browser only ever holds one page: the
 * table stays as quick with 20,000 devices as with 20. One pass over the registry, in its own
 * order (creation order), counting matches and keeping the requested window.
 */
export function devicePage(registry: RegistryService, filter: DeviceFilter, offset: number, limit: number): DevicePage {
  const size = Math.max(1, Math.min(limit, DASHBOARD_MAX_PAGE_ROWS));
  const start = Math.max(0, offset);
  const text = filter.text?.trim().toLowerCase() || undefined;
  const rows: DeviceRow[] = [];
  let matched = 0;
  let total = 0;
  for (const record of registry.records()) {
    total++;
    if (filter.status !== undefined && record.status !== filter.status) continue;
    if (filter.connection !== undefined && record.connectionState !== filter.connection) continue;
    if (text !== undefined && !record.deviceId.toLowerCase().includes(text)) continue;
    if (matched >= start && rows.length < size) rows.push(deviceRow(record, registry));
    matched++;
  }
  return { total, matched, offset: start, rows };
}
