import { HubError, isoTime } from '../emulator/index.js';
import type { DeviceJob, DeviceJobError, DeviceJobStatus, JobType } from './job-model.js';

/**
 * A new device-job record. Reading of the doc sample in docs/protocol.md §5.4 (startTimeUtc 18:18:52.7418462,
 * endTimeUtc exactly two minutes later with the same fraction, createdDateTimeUtc after the
 * start): startTimeUtc/endTimeUtc are the job's execution window (its start and start +
 * maxExecutionTimeInSeconds), while createdDateTimeUtc/lastUpdatedDateTimeUtc track the record.
 * EMULATOR CHOICE: every timestamp ends in Z (the sample's start/end have none, which JavaScript
 * would read as local time).
 */
export function newDeviceJob(jobId: string, jobType: JobType, deviceId: string, runStartedMs: number, maxSeconds: number, nowMs: number): DeviceJob {
  const now = stamp(nowMs);
  return {
    deviceId,
    jobId,
    jobType,
    status: 'pending',
    startTimeUtc: stamp(runStartedMs),
    endTimeUtc: isoTime(runStartedMs + maxSeconds * 1000),
    createdDateTimeUtc: now,
    lastUpdatedDateTimeUtc: now,
  };
}

// Thousands of records change within the same millisecond; formatting the time once for all of
// them is a measurable part of a 10,000-device job.
let stampMs = Number.NaN;
let stampText = '';
function stamp(ms: number): string {
  if (ms !== stampMs) {
    stampMs = ms;
    stampText = isoTime(ms);
  }
  return stampText;
}

export function markRunning(record: DeviceJob, nowMs: number): void {
  record.status = 'running';
  record.lastUpdatedDateTimeUtc = stamp(nowMs);
}

/** A device that answered: completed whatever status it answered with (docs/protocol.md §5.3, §8.20). */
export function markCompleted(record: DeviceJob, methodResponse: { status: number; payload: unknown } | null, nowMs: number): void {
  record.status = 'completed';
  record.outcome = { deviceMethodResponse: methodResponse };
  delete record.error;
  record.lastUpdatedDateTimeUtc = stamp(nowMs);
}

export function markFailed(record: DeviceJob, error: DeviceJobError, nowMs: number): void {
  record.status = 'failed';
  record.outcome = { deviceMethodResponse: null };
  record.error = error;
  record.lastUpdatedDateTimeUtc = stamp(nowMs);
}

export function markCanceled(record: DeviceJob, nowMs: number): void {
  record.status = 'canceled';
  record.error = { code: 'JobCancelled', description: 'The job was cancelled before this device finished.' };
  record.lastUpdatedDateTimeUtc = stamp(nowMs);
}

/**
 * The `error` of a failed device job. EMULATOR CHOICE (docs/protocol.md §5.3): an offline device reads
 * DeviceNotOnline / "Timed out waiting for device to connect." (the wording iotedge#2958 shows),
 * a silent one GatewayTimeout / "Timed out waiting for the response from device."; any other
 * hub error keeps its name and message.
 */
export function deviceJobError(error: unknown): DeviceJobError {
  if (error instanceof HubError) {
    if (error.errorName === 'DeviceNotOnline') return { code: 'DeviceNotOnline', description: 'Timed out waiting for device to connect.' };
    return { code: error.errorName, description: error.message };
  }
  return { code: 'ServerError', description: error instanceof Error ? error.message : String(error) };
}

export function isDeviceJobStatus(value: unknown): value is DeviceJobStatus {
  return value === 'pending' || value === 'running' || value === 'completed' || value === 'failed' || value === 'canceled';
}
