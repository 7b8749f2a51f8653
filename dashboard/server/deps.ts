import type { Logger } from 'pino';
import type { Clock, DeviceSelection, Hub, HubEvents, MethodService, Recording, RegistryService, TwinService } from '../../emulator/index.js';
import type { Scheduler } from '../../scheduler/scheduler.js';

/**
 * What the dashboard is given by the composition root: the hub's public services and the
 * scheduler, called in-process. It never holds a key a user would have to type, and it reaches
 * no store directly.
 */
export interface DashboardDeps {
  /** the name connection strings carry */
  readonly hostName: string;
  readonly registry: RegistryService;
  readonly twins: TwinService;
  readonly methods: MethodService;
  /** queries: the same selection `POST /devices/query` pages through */
  readonly selection: DeviceSelection;
  /** how many devices are connected right now */
  readonly connections: { readonly count: number };
  readonly events: HubEvents;
  readonly recording: Recording;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  /** the chaos API's rules (the Faults page) */
  readonly faults: Hub['faults'];
  /** the tier's throttles and quota, when a tier is set */
  readonly throttle?: Hub['throttle'];
  /** cloud-to-device queues (the device page's send form, its queue depth and purge) */
  readonly c2d: Pick<Hub['c2d'], 'send' | 'pending' | 'purge'>;
  /** the hub's Prometheus registry: the Faults page shows iothub_emulator_throttled_total from it */
  readonly metrics: Pick<Hub['metrics'], 'registry'>;
  deviceConnectionString(deviceId: string): string;
  moduleConnectionString(deviceId: string, moduleId: string): string;
  /** the hub's connection string for a policy (the well-known development keys) */
  connectionString(policy?: string): string;
  readonly log: Logger;
}
