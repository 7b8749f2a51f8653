import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { HubOptions } from './config.js';
import type { HubEvents } from './events.js';
import type { MethodService } from './methods/method-service.js';
import type { ResetHook } from './operations/reset.js';
import type { DeviceJobRecords, DeviceSelection } from './selection/device-selection.js';
import type { HubStorage } from './store/hub-storage.js';
import type { TwinService } from './twin/twin-service.js';

/**
 * What the hub's faces need of jobs v2 (`/jobs/v2/…` and `SELECT * FROM devices.jobs`). The
 * emulator defines it and serves those routes through it; the scheduler implements it; the
 * composition root (cli/) hands one to the hub. So the arrows stay one way: the scheduler
 * depends on the emulator, never the reverse. Answers are already the wire's JSON.
 */
export interface JobsApi {
  /** `PUT /jobs/v2/{id}` */
  create(jobId: string, body: unknown): object;
  /** `GET /jobs/v2/{id}` */
  get(jobId: string): object;
  /** `POST /jobs/v2/{id}/cancel` */
  cancel(jobId: string): object;
  /**
   * `GET /jobs/v2/query?jobType=&jobStatus=` with the parameters as the request gave them.
   * `filterKey` names the filter as understood, so a paging token cannot move to another filter.
   */
  list(jobType: unknown, jobStatus: unknown): { jobs: object[]; filterKey: string };
  /** Device-job records for `devices.jobs` queries, in a stable order (see DeviceJobRecords). */
  deviceJobs: DeviceJobRecords;
}

/** A jobs component as the hub hosts it: its API, a reset hook, and the lifecycle the hub drives. */
export interface JobsComponent extends JobsApi, ResetHook {
  /** once the listeners are up: arm scheduled jobs, resume running ones */
  start(): void;
  /** before the services close: leave every job as a kill would */
  stop(): void;
}

/** What the hub lends a jobs component: its services (the only way to devices), clock, events and storage. */
export interface JobsHost {
  readonly options: HubOptions;
  readonly twins: TwinService;
  readonly methods: MethodService;
  readonly selection: DeviceSelection;
  readonly storage: HubStorage;
  readonly clock: Clock;
  readonly events: HubEvents;
  readonly log: Logger;
  /**
   * With a tier set (docs/protocol.md §5.6), how long the next job device operation must wait
   * (0: go now); every call charges one operation. Absent: jobs run unthrottled.
   */
  readonly jobDevicePace?: JobDevicePace;
  /** jobs active at once: --max-active-jobs, or the tier's own limit when a tier is set */
  readonly maxActiveJobs: number;
}

export interface JobDevicePace {
  next(): number;
  /** the rate, for the job's statusMessage */
  readonly description: string;
}

/** Builds the jobs component once the hub's services exist (the root passes one to openHub). */
export type JobsFactory = (host: JobsHost) => JobsComponent;
