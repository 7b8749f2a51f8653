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

/**
 * A device-job record's JSON text, as `JSON.stringify(record)` writes it. A twin job's records
 * differ only in their deviceId (same job, status, times, outcome), so the text after the id is
 * made once and reused while records keep that shape: stringifying each record whole was a
 * measurable part of a 100,000-device job, twice per device (docs/scaling.md §5). Anything else
 * (a method response, an error) is stringified as it is.
 */
export function deviceJobText(record: object): string {
  const fields = record as Record<string, unknown>;
  const template = lastTemplate;
  if (template !== undefined && sameBesideDeviceId(template, fields)) return `{"deviceId":${JSON.stringify(fields.deviceId)},${template.tail}`;
  const text = JSON.stringify(record);
  const keys = templateKeys(fields);
  if (keys !== undefined) {
    const prefix = `{"deviceId":${JSON.stringify(fields.deviceId)},`;
    if (text.startsWith(prefix)) lastTemplate = { keys, values: keys.map((key) => fields[key]), tail: text.slice(prefix.length) };
  }
  return text;
}

/**
 * The text after `{"deviceId":"…",` that `record` shares with the records of its template (those
 * differing only in their deviceId: a twin job's records, at its start and in each slice), or
 * undefined. With it the store writes a run of records in one statement that builds each text
 * from its row's device id (JobStore); only ids that JSON writes as they are qualify (device and
 * module ids are printable ASCII, and none has `"` or `\`), so the text is deviceJobText's.
 */
export function deviceJobTail(record: object): string | undefined {
  const fields = record as Record<string, unknown>;
  const id = fields.deviceId;
  if (typeof id !== 'string' || !PLAIN_JSON_STRING.test(id)) return undefined;
  if (lastTemplate !== undefined && sameBesideDeviceId(lastTemplate, fields)) return lastTemplate.tail;
  // Makes the template where the record allows one.
  deviceJobText(record);
  const template = lastTemplate;
  return template !== undefined && sameBesideDeviceId(template, fields) ? template.tail : undefined;
}

/** A string JSON.stringify writes as `"` + itself + `"`: printable ASCII without `"` and `\`. */
const PLAIN_JSON_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

interface TextTemplate {
  /** the record's keys after deviceId, in order */
  keys: string[];
  /** their values: strings, or an outcome without a method response */
  values: unknown[];
  /** the text after `{"deviceId":"…",` */
  tail: string;
}

let lastTemplate: TextTemplate | undefined;

/** The keys after a leading string deviceId when every other value can be compared cheaply; else undefined. */
function templateKeys(fields: Record<string, unknown>): string[] | undefined {
  const keys: string[] = [];
  let first = true;
  for (const key in fields) {
    if (first) {
      if (key !== 'deviceId' || typeof fields[key] !== 'string') return undefined;
      first = false;
      continue;
    }
    const value = fields[key];
    if (typeof value !== 'string' && !isNullOutcome(value)) return undefined;
    keys.push(key);
  }
  return first ? undefined : keys;
}

function sameBesideDeviceId(template: TextTemplate, fields: Record<string, unknown>): boolean {
  let i = -1;
  for (const key in fields) {
    if (i === -1) {
      if (key !== 'deviceId' || typeof fields[key] !== 'string') return false;
      i = 0;
      continue;
    }
    if (key !== template.keys[i]) return false;
    const value = fields[key];
    const expected = template.values[i];
    if (value !== expected && !(isNullOutcome(value) && isNullOutcome(expected))) return false;
    i++;
  }
  return i === template.keys.length;
}

/** `{ deviceMethodResponse: null }`, the outcome of every twin-job device (and nothing else in it). */
function isNullOutcome(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  let count = 0;
  for (const key in value) {
    if (key !== 'deviceMethodResponse' || (value as { deviceMethodResponse: unknown }).deviceMethodResponse !== null) return false;
    count++;
  }
  return count === 1;
}
