import type { Logger } from 'pino';
import { isoTime, JOB_TWIN_SLICE, type Clock, type DeviceSelection, type HubEvents, type JobDevicePace, type MethodService, type TwinService } from '../emulator/index.js';
import type { ClockTimers } from './clock-timers.js';
import { deviceJobError, markCanceled, markCompleted, markFailed, markRunning, newDeviceJob } from './device-job.js';
import { emptyStatistics, statisticFor, type DeviceJob, type JobState, type JobStatus } from './job-model.js';
import type { JobPlan } from './job-request.js';
import type { DeviceJobRow, JobStore, NewDeviceJobRow } from './job-store.js';

export interface RunContext {
  store: JobStore;
  /** which devices a job's condition selects */
  selection: DeviceSelection;
  twins: TwinService;
  methods: MethodService;
  clock: Clock;
  events: HubEvents;
  timers: ClockTimers;
  log: Logger;
  /** device operations in flight at once, read at every dispatch so a change applies to running jobs */
  concurrency(): number;
  /** a throttled tier's job device operation rate (docs/protocol.md §5.6); absent: unthrottled */
  pace?: JobDevicePace;
  ended(run: JobRun): void;
}

// Twin updates are synchronous, so they are applied in slices (JOB_TWIN_SLICE) that leave the
// event loop free for requests and device traffic in between; each slice is one transaction.

/**
 * EMULATOR CHOICE (durability): a method call that was in flight when the emulator stopped is
 * not repeated after the restart (the device may have run it: at most once); its record fails
 * with the error a graceful stop gives in-flight direct methods.
 */
const INTERRUPTED = { code: 'ServiceUnavailable', description: 'The emulator stopped while this device\'s method call was in flight; the call is not repeated.' } as const;

/**
 * One running job: fans the operation out over the devices its condition selected, with at most
 * `concurrency()` method calls in flight, keeps statistics as it goes, and writes progress in
 * batches (one transaction per event-loop turn) so 10,000 devices do not mean 10,000 commits.
 */
export class JobRun {
  private readonly records = new Map<string, DeviceJob>();
  private readonly rowids = new Map<DeviceJob, number>();
  private readonly order: string[] = [];
  private next = 0;
  private inFlight = 0;
  private readonly dirty = new Set<DeviceJob>();
  /** running records not written as such: the `dispatched` mark covers them unless a query asks */
  private readonly unwrittenRunning = new Set<DeviceJob>();
  private jobDirty = false;
  private pumpQueued = false;
  private state: 'running' | 'ended' | 'stopped' = 'running';
  private cancelDeadline: () => void = () => undefined;
  /** a throttled run waits for its next device operation; the record it waits for is already paid for */
  private paceTimer?: NodeJS.Timeout;
  private prepaid?: DeviceJob;

  private constructor(
    private readonly job: JobState,
    private readonly plan: JobPlan,
    private readonly ctx: RunContext,
    records: readonly DeviceJob[],
    rowids: readonly number[],
  ) {
    const stats = emptyStatistics();
    records.forEach((record, i) => {
      this.records.set(record.deviceId, record);
      this.rowids.set(record, rowids[i]!);
      this.order.push(record.deviceId);
      stats[statisticFor(record.status)]++;
    });
    stats.deviceCount = records.length;
    job.response.deviceJobStatistics = stats;
  }

  get jobId(): string {
    return this.job.response.jobId;
  }

  /** Starts a queued or scheduled job: the device set is what the condition selects now (docs/protocol.md §5.1). */
  static start(job: JobState, plan: JobPlan, ctx: RunContext): JobRun {
    const now = ctx.clock.now();
    const { jobId, type, maxExecutionTimeInSeconds } = job.response;
    const records = ctx.selection.select(plan.query).map((deviceId) => newDeviceJob(jobId, type, deviceId, now, maxExecutionTimeInSeconds, now));
    job.runStartedMs = now;
    job.dispatched = 0;
    job.response.status = 'running';
    job.response.deviceJobStatistics = { ...emptyStatistics(), deviceCount: records.length, pendingCount: records.length };
    // One transaction: after a kill the job is either not started (and starts again) or running
    // with every one of its device records — never half fanned out.
    const rowids = ctx.store.atomically(() => {
      const ids = ctx.store.insertDeviceJobs(jobId, records.map(newRowOf));
      ctx.store.updateJob(jobId, 'running', job);
      return ids;
    });
    const run = new JobRun(job, plan, ctx, records, rowids);
    ctx.log.info({ jobId, type, devices: records.length }, 'job started');
    run.begin();
    return run;
  }

  /** Continues a job that was running when the emulator stopped (or was killed). */
  static resume(job: JobState, plan: JobPlan, ctx: RunContext): JobRun {
    const rows = ctx.store.deviceJobsOf(job.response.jobId);
    const records = rows.map((row) => row.record as DeviceJob);
    const run = new JobRun(job, plan, ctx, records, rows.map((row) => row.rowid));
    const now = ctx.clock.now();
    const dispatched = job.dispatched ?? 0;
    let interrupted = 0;
    records.forEach((record, i) => {
      // Below the mark and unfinished: its call was in flight when the emulator stopped.
      if (i >= dispatched || (record.status !== 'pending' && record.status !== 'running')) return;
      run.set(record, () => markFailed(record, { ...INTERRUPTED }, now));
      interrupted++;
    });
    run.next = dispatched;
    job.runStartedMs ??= now;
    ctx.log.info({ jobId: run.jobId, devices: records.length, interrupted, pending: job.response.deviceJobStatistics.pendingCount }, 'job resumed');
    run.begin();
    return run;
  }

  /** Stops dispatch; what has not finished is canceled (EMULATOR CHOICE, docs/protocol.md §5.1). */
  cancel(): void {
    if (this.state !== 'running') return;
    const now = this.ctx.clock.now();
    for (const record of this.records.values()) {
      if (record.status === 'pending' || record.status === 'running') this.set(record, () => markCanceled(record, now));
    }
    this.finish('cancelled');
  }

  /** The hub is stopping: write what is known and leave the rest to the next start (as after a kill). */
  stop(): void {
    if (this.state !== 'running') return;
    this.state = 'stopped';
    this.cancelDeadline();
    clearTimeout(this.paceTimer);
    this.flush(false);
  }

  /** Writes buffered progress now, running records included (queries read device-job records from the store). */
  flushNow(): void {
    if (this.state !== 'running') return;
    for (const record of this.unwrittenRunning) if (record.status === 'running') this.dirty.add(record);
    this.unwrittenRunning.clear();
    this.flush(false);
  }

  private begin(): void {
    // EMULATOR CHOICE (docs/protocol.md §5.6): a throttled job says so while it runs.
    if (this.ctx.pace) this.job.response.statusMessage = `Running at ${this.ctx.pace.description} (throttled by the hub's tier).`;
    const deadline = this.job.runStartedMs! + this.job.response.maxExecutionTimeInSeconds * 1000;
    this.cancelDeadline = this.ctx.timers.at(deadline, () => this.expire());
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpQueued || this.state !== 'running') return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      if (this.state !== 'running') return;
      if (this.plan.twin) this.applyTwinSlice();
      else this.dispatchMethods();
    });
  }

  /**
   * Whether `record`'s operation may go now on a throttled tier; if not, the pump runs again when
   * it may (the wait is already charged, so the record goes first then).
   */
  private paced(record: DeviceJob): boolean {
    const pace = this.ctx.pace;
    if (!pace || this.prepaid === record) {
      this.prepaid = undefined;
      return true;
    }
    const wait = pace.next();
    if (wait === 0) return true;
    this.prepaid = record;
    this.paceTimer = setTimeout(() => {
      this.paceTimer = undefined;
      this.schedulePump();
    }, wait);
    return false;
  }

  private dispatchMethods(): void {
    if (this.paceTimer) return;
    const limit = Math.max(1, this.ctx.concurrency());
    const now = this.ctx.clock.now();
    const batch: DeviceJob[] = [];
    while (this.inFlight + batch.length < limit && this.next < this.order.length) {
      const record = this.records.get(this.order[this.next]!)!;
      if (record.status !== 'pending') {
        this.next++;
        continue;
      }
      if (!this.paced(record)) break;
      this.next++;
      this.set(record, () => markRunning(record, now), false);
      this.unwrittenRunning.add(record);
      batch.push(record);
    }
    if (batch.length > 0) {
      this.job.dispatched = this.next;
      this.jobDirty = true;
    }
    // The mark reaches the disk before any request leaves, so after a kill these devices are
    // known to have been called and are not called again.
    this.flush(false);
    for (const record of batch) this.invoke(record);
    if (this.next >= this.order.length && this.inFlight === 0) this.finish('completed');
  }

  private invoke(record: DeviceJob): void {
    this.inFlight++;
    this.ctx.methods.invoke(record.deviceId, this.plan.method!).then(
      (result) => this.settle(record, () => markCompleted(record, { status: result.status, payload: result.payload }, this.ctx.clock.now())),
      (error: unknown) => this.settle(record, () => markFailed(record, deviceJobError(error), this.ctx.clock.now())),
    );
  }

  private settle(record: DeviceJob, mark: () => void): void {
    this.inFlight--;
    // A cancelled, expired or stopped job already decided this record; a late answer is dropped.
    if (this.state !== 'running' || record.status !== 'running') return;
    this.unwrittenRunning.delete(record);
    this.set(record, mark);
    this.schedulePump();
  }

  private applyTwinSlice(): void {
    if (this.paceTimer) return;
    const { change, etag } = this.plan.twin!;
    const end = Math.min(this.next + JOB_TWIN_SLICE, this.order.length);
    const now = this.ctx.clock.now();
    const slice: DeviceJob[] = [];
    while (this.next < end) {
      const record = this.records.get(this.order[this.next]!)!;
      if (record.status === 'pending' && !this.paced(record)) break;
      this.next++;
      if (record.status === 'pending') slice.push(record);
    }
    if (this.paceTimer && slice.length === 0) return;
    // The twin service applies the patch as PATCH /twins/{id} does (rules, $metadata, events,
    // desired notifications) and saves the twins; the device-job records are written in the
    // same transaction, so a kill can neither lose an applied update nor apply one twice.
    this.ctx.store.atomically(() => {
      const outcomes = this.ctx.twins.updateMany(slice.map((record) => record.deviceId), change, etag);
      slice.forEach((record, i) => {
        const error = outcomes[i];
        if (error === undefined) this.set(record, () => markCompleted(record, null, now));
        else this.set(record, () => markFailed(record, deviceJobError(error), now));
      });
      this.flush(false);
    });
    if (this.paceTimer) return;
    if (this.next < this.order.length) this.schedulePump();
    else this.finish('completed');
  }

  /**
   * maxExecutionTimeInSeconds elapsed (emulator clock). EMULATOR CHOICE (docs/protocol.md §5.1): what has not
   * finished fails with JobTimeout; the job is completed, or failed when no device succeeded.
   */
  private expire(): void {
    if (this.state !== 'running') return;
    const now = this.ctx.clock.now();
    const seconds = this.job.response.maxExecutionTimeInSeconds;
    const error = { code: 'JobTimeout', description: `The job reached its maxExecutionTimeInSeconds (${seconds} s) before this device finished.` };
    let unfinished = 0;
    for (const record of this.records.values()) {
      if (record.status !== 'pending' && record.status !== 'running') continue;
      this.set(record, () => markFailed(record, { ...error }, now));
      unfinished++;
    }
    const message = `The job reached its maxExecutionTimeInSeconds (${seconds} s) with ${unfinished} device(s) unfinished.`;
    if (this.job.response.deviceJobStatistics.succeededCount === 0) this.finish('failed', message, message);
    else this.finish('completed', message);
  }

  private finish(status: JobStatus, statusMessage?: string, failureReason?: string): void {
    if (this.state !== 'running') return;
    this.state = 'ended';
    this.cancelDeadline();
    clearTimeout(this.paceTimer);
    if (this.ctx.pace && statusMessage === undefined) delete this.job.response.statusMessage;
    const response = this.job.response;
    response.status = status;
    response.endTime = isoTime(this.ctx.clock.now());
    if (statusMessage !== undefined) response.statusMessage = statusMessage;
    if (failureReason !== undefined) response.failureReason = failureReason;
    this.flush(true);
    this.ctx.log.info({ jobId: this.jobId, status, statistics: response.deviceJobStatistics }, 'job ended');
    this.ctx.events.emit('jobFinished', { jobId: this.jobId, type: response.type, status: status as 'completed' | 'failed' | 'cancelled' });
    this.ctx.ended(this);
  }

  /** Moves a record to another status, keeping the statistics in step, and queues it for writing. */
  private set(record: DeviceJob, mark: () => void, write = true): void {
    const stats = this.job.response.deviceJobStatistics;
    stats[statisticFor(record.status)]--;
    mark();
    stats[statisticFor(record.status)]++;
    this.jobDirty = true;
    if (write) this.dirty.add(record);
    if (record.status === 'completed' || record.status === 'failed') {
      this.ctx.events.emit('jobDeviceFinished', { jobId: this.jobId, deviceId: record.deviceId, type: record.jobType, outcome: record.status });
    }
  }

  private flush(always: boolean): void {
    if (!always && !this.jobDirty && this.dirty.size === 0) return;
    const rows: DeviceJobRow[] = [];
    for (const record of this.dirty) rows.push({ rowid: this.rowids.get(record)!, deviceId: record.deviceId, status: record.status, record });
    this.dirty.clear();
    this.jobDirty = false;
    const { store } = this.ctx;
    store.atomically(() => {
      store.updateDeviceJobs(rows);
      store.updateJob(this.jobId, this.job.response.status, this.job);
    });
  }
}

function newRowOf(record: DeviceJob): NewDeviceJobRow {
  return { deviceId: record.deviceId, status: record.status, record };
}
