/**
 * The shapes jobs v2 puts on the wire (docs/protocol.md §3.6, §5.4, §5.5) and what the store keeps of them.
 * Job status words follow the swagger/C# enum (`cancelled`, double l); device-job status words
 * follow the C# DeviceJobStatus enum (`canceled`, single l) — the hub really uses both (docs/protocol.md §8.2).
 */

export type JobType = 'scheduleDeviceMethod' | 'scheduleUpdateTwin';
export type JobStatus = 'queued' | 'scheduled' | 'running' | 'completed' | 'failed' | 'cancelled';
export type DeviceJobStatus = 'pending' | 'running' | 'completed' | 'failed' | 'canceled';

export const ACTIVE_JOB_STATUSES: ReadonlySet<JobStatus> = new Set(['queued', 'scheduled', 'running']);

export interface DeviceJobStatistics {
  deviceCount: number;
  failedCount: number;
  succeededCount: number;
  runningCount: number;
  pendingCount: number;
}

/** `GET /jobs/v2/{id}`: absent members are left out rather than sent as null, like the az-cli fixture in docs/protocol.md §3.6. */
export interface JobResponse {
  jobId: string;
  queryCondition: string;
  createdTime: string;
  startTime: string;
  endTime?: string;
  maxExecutionTimeInSeconds: number;
  type: JobType;
  /** echo of the request, as sent */
  cloudToDeviceMethod?: unknown;
  /** echo of the request, as sent */
  updateTwin?: unknown;
  status: JobStatus;
  failureReason?: string;
  statusMessage?: string;
  deviceJobStatistics: DeviceJobStatistics;
}

/** What the jobs table holds: the response plus the emulator-clock times the scheduler runs on. */
export interface JobState {
  response: JobResponse;
  /** when the job may start, emulator clock (ms) */
  startMs: number;
  /** when it actually started running; maxExecutionTimeInSeconds counts from here, across restarts too */
  runStartedMs?: number;
  /**
   * Method jobs: how many devices, in record order, have been handed a call. Written before the
   * calls leave, so after a kill the records below it that had not finished are known to have
   * been mid-call (instead of writing every record once more as `running`).
   */
  dispatched?: number;
}

export interface DeviceJobError {
  code: string;
  description: string;
}

/** One row of `SELECT * FROM devices.jobs` (docs/protocol.md §5.4). */
export interface DeviceJob {
  deviceId: string;
  jobId: string;
  jobType: JobType;
  status: DeviceJobStatus;
  startTimeUtc: string;
  endTimeUtc: string;
  createdDateTimeUtc: string;
  lastUpdatedDateTimeUtc: string;
  outcome?: { deviceMethodResponse: { status: number; payload: unknown } | null };
  error?: DeviceJobError;
}

export function emptyStatistics(): DeviceJobStatistics {
  return { deviceCount: 0, failedCount: 0, succeededCount: 0, runningCount: 0, pendingCount: 0 };
}

/** Which statistic a device-job status counts under (docs/protocol.md §5.5: canceled counts as failed). */
export function statisticFor(status: DeviceJobStatus): Exclude<keyof DeviceJobStatistics, 'deviceCount'> {
  switch (status) {
    case 'pending':
      return 'pendingCount';
    case 'running':
      return 'runningCount';
    case 'completed':
      return 'succeededCount';
    case 'failed':
    case 'canceled':
      return 'failedCount';
  }
}

export function isTerminal(status: DeviceJobStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'canceled';
}
