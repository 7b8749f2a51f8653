import {
  HubError,
  isJsonObject,
  isoTime,
  JOB_DEFAULT_MAX_EXECUTION_SECONDS,
  JOB_MAX_EXECUTION_SECONDS,
  parseJobCondition,
  QueryError,
  readMethodCall,
  readServiceChange,
  unquote,
  type MethodCall,
  type Query,
  type ServiceTwinChange,
} from '../emulator/index.js';
import { emptyStatistics, type JobResponse, type JobState, type JobType } from './job-model.js';

export type TwinChange = ServiceTwinChange;

/** What running a job needs, derived from its stored response (so a restart derives the same). */
export interface JobPlan {
  query: Query;
  method?: MethodCall;
  twin?: { change: TwinChange; etag: string | undefined };
}

// Both generations of names are accepted (docs/protocol.md §8.1); the current ones are emitted.
const TYPE_NAMES: Record<string, JobType> = {
  scheduledevicemethod: 'scheduleDeviceMethod',
  scheduledirectrequest: 'scheduleDeviceMethod',
  scheduleupdatetwin: 'scheduleUpdateTwin',
  scheduletwinupdate: 'scheduleUpdateTwin',
};

export function jobTypeOf(name: string): JobType | undefined {
  return TYPE_NAMES[name.toLowerCase()];
}

/** Validates a `PUT /jobs/v2/{id}` body into the job's first state (status queued). */
export function readJobRequest(jobId: string, body: unknown, nowMs: number): JobState {
  if (!isJsonObject(body)) throw new HubError('ArgumentInvalid', 'The job body must be a JSON object.');
  // Node's JobClient takes numeric job ids too and sends them as JSON numbers.
  if (body.jobId !== undefined && body.jobId !== null && String(body.jobId) !== jobId) {
    throw new HubError('ArgumentInvalid', `The jobId in the body ('${String(body.jobId)}') does not match the one in the path ('${jobId}').`);
  }
  if (typeof body.type !== 'string') throw new HubError('ArgumentNull', 'The job type cannot be null; use scheduleDeviceMethod or scheduleUpdateTwin.');
  const type = jobTypeOf(body.type);
  if (!type) {
    throw new HubError('ArgumentInvalid', `Job type '${body.type}' cannot be scheduled through /jobs/v2; use scheduleDeviceMethod or scheduleUpdateTwin.`);
  }
  if (typeof body.queryCondition !== 'string' || body.queryCondition.trim() === '') {
    throw new HubError('ArgumentNull', 'The job queryCondition cannot be null or empty; use * for every device.');
  }
  const startMs = readStartTime(body.startTime, nowMs);
  const maxSeconds = readMaxExecution(body.maxExecutionTimeInSeconds);
  const response: JobResponse = {
    jobId,
    queryCondition: body.queryCondition,
    createdTime: isoTime(nowMs),
    startTime: isoTime(startMs),
    maxExecutionTimeInSeconds: maxSeconds,
    type,
    status: 'queued',
    deviceJobStatistics: emptyStatistics(),
  };
  if (type === 'scheduleDeviceMethod') {
    if (body.cloudToDeviceMethod === undefined || body.cloudToDeviceMethod === null) {
      throw new HubError('ArgumentNull', 'A scheduleDeviceMethod job needs cloudToDeviceMethod.');
    }
    response.cloudToDeviceMethod = body.cloudToDeviceMethod;
  } else {
    if (body.updateTwin === undefined || body.updateTwin === null) {
      throw new HubError('ArgumentNull', 'A scheduleUpdateTwin job needs updateTwin.');
    }
    response.updateTwin = body.updateTwin;
  }
  // Validate everything now, so a bad method or patch is a 400 here and not a failed job later.
  planJob(response);
  return { response, startMs };
}

/** Re-derives what a job runs from its response: the same code at creation and after a restart. */
export function planJob(response: JobResponse): JobPlan {
  let query: Query;
  try {
    query = parseJobCondition(response.queryCondition);
  } catch (error) {
    if (error instanceof QueryError) throw new HubError('ArgumentInvalid', `The queryCondition is invalid. ${error.message}`);
    throw error;
  }
  if (response.type === 'scheduleDeviceMethod') {
    return { query, method: readMethodCall(response.cloudToDeviceMethod) };
  }
  const body = response.updateTwin;
  const change = readServiceChange(body);
  // EMULATOR CHOICE (docs/protocol.md §5.2): etag null, absent or * updates unconditionally; any other value is
  // checked against each device's twin etag, and a mismatch fails that device with PreconditionFailed.
  const rawEtag = isJsonObject(body) ? body.etag : undefined;
  if (rawEtag !== undefined && rawEtag !== null && typeof rawEtag !== 'string') {
    throw new HubError('ArgumentInvalid', 'updateTwin.etag must be a string.');
  }
  const etag = unquote(rawEtag ?? undefined);
  return { query, twin: { change, etag: etag === '*' || etag === '' ? undefined : etag } };
}

function readStartTime(value: unknown, nowMs: number): number {
  // null/absent means "now" (docs/protocol.md §3.6: the Node promise form sends "startTime": null).
  if (value === undefined || value === null) return nowMs;
  if (typeof value !== 'string') throw new HubError('ArgumentInvalid', 'startTime must be an ISO-8601 date string.');
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new HubError('ArgumentInvalid', `startTime '${value}' is not an ISO-8601 date.`);
  return ms;
}

function readMaxExecution(value: unknown): number {
  // Absent or 0: the default (limits.ts explains it).
  if (value === undefined || value === null || value === 0) return JOB_DEFAULT_MAX_EXECUTION_SECONDS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > JOB_MAX_EXECUTION_SECONDS) {
    throw new HubError(
      'ArgumentInvalid',
      `maxExecutionTimeInSeconds must be a whole number of seconds from 1 to ${JOB_MAX_EXECUTION_SECONDS}; got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}
