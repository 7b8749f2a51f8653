import { HubError, isoTime, JOB_DEFAULT_CONCURRENCY, type JobsComponent } from '../emulator/index.js';
import { ClockTimers } from './clock-timers.js';
import { matchesFilter, readJobFilter } from './job-filter.js';
import { ACTIVE_JOB_STATUSES, type JobResponse, type JobState } from './job-model.js';
import { planJob, readJobRequest } from './job-request.js';
import { JobRun, type RunContext } from './job-run.js';

/** What the scheduler is given (the hub's JobsHost plus its own store); each run also gets its timers, concurrency and end callback. */
export type SchedulerDeps = Pick<RunContext, 'store' | 'selection' | 'twins' | 'methods' | 'clock' | 'events' | 'log' | 'pace'>;

export interface SchedulerOptions {
  /** jobs queued, scheduled or running at once before 429 ThrottlingMaxActiveJobCountExceeded */
  maxActiveJobs: number;
  /** device operations a job keeps in flight at once */
  concurrency?: number;
}

/**
 * The job service behind /jobs/v2 (docs/protocol.md §3.6, §5): validates and stores jobs, starts them at
 * their start time on the emulator clock, runs them through JobRun, and brings jobs that were
 * scheduled or running when the emulator stopped to a terminal state after a restart. The hub
 * hosts it as its JobsComponent: routes and queries reach it through that interface only.
 */
export class Scheduler implements JobsComponent {
  // Insertion order is creation order: the order GET /jobs/v2/query pages through.
  private readonly jobs = new Map<string, JobState>();
  private readonly runs = new Map<string, JobRun>();
  private readonly pendingStarts = new Map<string, () => void>();
  private readonly timers: ClockTimers;
  private readonly context: RunContext;
  private concurrency: number;
  private started = false;
  private stopped = false;

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly options: SchedulerOptions,
  ) {
    this.timers = new ClockTimers(deps.clock);
    this.concurrency = options.concurrency ?? JOB_DEFAULT_CONCURRENCY;
    this.context = {
      ...deps,
      timers: this.timers,
      concurrency: () => this.concurrency,
      ended: (run) => this.runs.delete(run.jobId),
    };
    for (const row of deps.store.loadJobs()) this.jobs.set(row.jobId, row.job as JobState);
  }

  /** Arms the jobs found in the store: scheduled ones wait for their time, running ones resume. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const job of this.jobs.values()) {
      const status = job.response.status;
      if (status === 'queued' || status === 'scheduled') this.arm(job);
      else if (status === 'running') this.resume(job);
    }
  }

  setConcurrency(concurrency: number): void {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    this.concurrency = concurrency;
  }

  /** `PUT /jobs/v2/{id}`: answers with the job as queued; it is scheduled or started right after. */
  create(jobId: string, body: unknown): JobResponse {
    if (this.jobs.has(jobId)) {
      // EMULATOR CHOICE (docs/protocol.md §5.1): a reused jobId is 409 JobAlreadyExists, whatever its state.
      throw new HubError('JobAlreadyExists', `A job with id '${jobId}' already exists.`);
    }
    const job = readJobRequest(jobId, body, this.deps.clock.now());
    const active = this.activeCount();
    if (active >= this.options.maxActiveJobs) {
      throw new HubError('ThrottlingMaxActiveJobCountExceeded', `The hub already has ${active} active job(s), its limit (--max-active-jobs ${this.options.maxActiveJobs}); wait for one to finish or cancel one.`);
    }
    this.deps.store.insertJob(jobId, job.response.status, this.deps.clock.now(), job);
    this.jobs.set(jobId, job);
    const answer = structuredClone(job.response);
    this.arm(job);
    return answer;
  }

  get(jobId: string): JobResponse {
    return structuredClone(this.require(jobId).response);
  }

  /**
   * `POST /jobs/v2/{id}/cancel`. Queued and scheduled jobs never start; a running one stops
   * dispatching (EMULATOR CHOICE, docs/protocol.md §5.1). A job already ended is answered as it is.
   */
  cancel(jobId: string): JobResponse {
    const job = this.require(jobId);
    const status = job.response.status;
    if (status === 'queued' || status === 'scheduled') {
      this.pendingStarts.get(jobId)?.();
      this.pendingStarts.delete(jobId);
      job.response.status = 'cancelled';
      job.response.endTime = isoTime(this.deps.clock.now());
      this.deps.store.updateJob(jobId, 'cancelled', job);
      this.deps.events.emit('jobFinished', { jobId, type: job.response.type, status: 'cancelled' });
    } else if (status === 'running') {
      this.runs.get(jobId)?.cancel();
    }
    return structuredClone(job.response);
  }

  /** `GET /jobs/v2/query`: the jobs a jobType/jobStatus filter (as the request gave it) matches, in creation order. */
  list(jobType: unknown, jobStatus: unknown): { jobs: JobResponse[]; filterKey: string } {
    const filter = readJobFilter(jobType, jobStatus);
    const jobs: JobResponse[] = [];
    for (const job of this.jobs.values()) {
      if (matchesFilter(job.response, filter)) jobs.push(structuredClone(job.response));
    }
    return { jobs, filterKey: `jobs?type=${filter.type ?? ''}&status=${filter.status ?? ''}` };
  }

  /**
   * Device-job records for `SELECT * FROM devices.jobs` (docs/protocol.md §5.4), progress of running jobs
   * included, with the rowid a later page resumes after.
   */
  deviceJobs(deviceIds?: readonly string[], afterRowid?: number): Iterable<{ rowid: number; record: object }> {
    for (const run of this.runs.values()) run.flushNow();
    return this.deps.store.deviceJobRecords(deviceIds, afterRowid);
  }

  /**
   * A hub reset (ResetHook): every job and device-job record is forgotten; calls still in flight
   * finish on their devices but are recorded nowhere. The clock keeps its offset.
   */
  reset(): void {
    for (const cancelStart of this.pendingStarts.values()) cancelStart();
    this.pendingStarts.clear();
    for (const run of this.runs.values()) run.stop();
    this.runs.clear();
    this.jobs.clear();
    this.deps.store.clear();
  }

  /** Leaves every job as a kill would, minus the progress not yet written: the next start resumes them. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.close();
    for (const run of this.runs.values()) run.stop();
    this.runs.clear();
  }

  private activeCount(): number {
    let count = 0;
    for (const job of this.jobs.values()) if (ACTIVE_JOB_STATUSES.has(job.response.status)) count++;
    return count;
  }

  private arm(job: JobState): void {
    const jobId = job.response.jobId;
    if (job.response.status === 'queued' && job.startMs > this.deps.clock.now()) {
      // Written after the PUT has answered `queued`, as the hub moves a future job along (docs/protocol.md §5.1).
      setImmediate(() => {
        if (this.stopped || job.response.status !== 'queued') return;
        job.response.status = 'scheduled';
        this.deps.store.updateJob(jobId, 'scheduled', job);
      });
    }
    this.pendingStarts.set(jobId, this.timers.at(job.startMs, () => {
      this.pendingStarts.delete(jobId);
      this.begin(job);
    }));
  }

  private begin(job: JobState): void {
    if (this.stopped || (job.response.status !== 'queued' && job.response.status !== 'scheduled')) return;
    try {
      this.runs.set(job.response.jobId, JobRun.start(job, planJob(job.response), this.context));
    } catch (error) {
      this.fail(job, error);
    }
  }

  private resume(job: JobState): void {
    try {
      this.runs.set(job.response.jobId, JobRun.resume(job, planJob(job.response), this.context));
    } catch (error) {
      this.fail(job, error);
    }
  }

  /** A job that cannot run at all (nothing should get here: requests are validated at creation). */
  private fail(job: JobState, error: unknown): void {
    this.runs.delete(job.response.jobId);
    const reason = error instanceof Error ? error.message : String(error);
    this.deps.log.error({ jobId: job.response.jobId, err: error }, 'job could not run');
    job.response.status = 'failed';
    job.response.failureReason = reason;
    job.response.statusMessage = reason;
    job.response.endTime = isoTime(this.deps.clock.now());
    this.deps.store.updateJob(job.response.jobId, 'failed', job);
    this.deps.events.emit('jobFinished', { jobId: job.response.jobId, type: job.response.type, status: 'failed' });
  }

  private require(jobId: string): JobState {
    const job = this.jobs.get(jobId);
    if (!job) throw new HubError('JobNotFound', `Job '${jobId}' could not be found.`);
    return job;
  }
}
