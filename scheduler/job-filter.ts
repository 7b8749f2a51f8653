import { HubError } from '../emulator/index.js';
import { jobTypeOf } from './job-request.js';
import type { JobResponse } from './job-model.js';

export interface JobFilter {
  type?: string;
  status?: string;
}

// Types that exist in the swagger enum (and the C# enum names for import/export) but that no
// jobs v2 entry of the emulator ever has: a valid filter that simply matches nothing.
const OTHER_TYPES: Record<string, string> = {
  unknown: 'unknown',
  export: 'export',
  exportdevices: 'export',
  import: 'import',
  importdevices: 'import',
  backup: 'backup',
  readdeviceproperties: 'readDeviceProperties',
  writedeviceproperties: 'writeDeviceProperties',
  updatedeviceconfiguration: 'updateDeviceConfiguration',
  rebootdevice: 'rebootDevice',
  factoryresetdevice: 'factoryResetDevice',
  firmwareupdate: 'firmwareUpdate',
  restorefrombackup: 'restoreFromBackup',
  failoverdatacopy: 'failoverDataCopy',
};

// The swagger status enum. `canceled` (the device-job spelling) is read as `cancelled`.
const STATUSES: Record<string, string> = {
  unknown: 'unknown',
  enqueued: 'enqueued',
  queued: 'queued',
  scheduled: 'scheduled',
  running: 'running',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  canceled: 'cancelled',
};

/**
 * `GET /jobs/v2/query?jobType=&jobStatus=`: Node sends the wire words, C# its enum names
 * (`ScheduleUpdateTwin`, `Completed`), so both are matched case-insensitively (docs/protocol.md §3.6).
 */
export function readJobFilter(jobType: unknown, jobStatus: unknown): JobFilter {
  const filter: JobFilter = {};
  if (typeof jobType === 'string' && jobType !== '') {
    const type = jobTypeOf(jobType) ?? OTHER_TYPES[jobType.toLowerCase()];
    if (!type) throw new HubError('ArgumentInvalid', `jobType '${jobType}' is not a job type.`);
    filter.type = type;
  }
  if (typeof jobStatus === 'string' && jobStatus !== '') {
    const status = STATUSES[jobStatus.toLowerCase()];
    if (!status) throw new HubError('ArgumentInvalid', `jobStatus '${jobStatus}' is not a job status; use one of ${Object.keys(STATUSES).join(', ')}.`);
    filter.status = status;
  }
  return filter;
}

export function matchesFilter(job: JobResponse, filter: JobFilter): boolean {
  return (filter.type === undefined || job.type === filter.type) && (filter.status === undefined || job.status === filter.status);
}
