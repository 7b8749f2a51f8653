import type { Aedes, Client } from 'aedes';
import { Counter, Gauge, Registry } from 'prom-client';
import { parseDevicePublish } from '../../protocol/topics.js';
import type { HubEvents } from '../events.js';

/**
 * Azure Monitor's IoT Hub metric names, as the hub's portal and alerts know them. Prometheus
 * names allow no dots, so each is exposed with dots turned into underscores
 * (`d2c.telemetry.ingress.success` → `d2c_telemetry_ingress_success`) and nothing else changed,
 * so dashboards can be mapped one to one. Names the real hub does not have carry an
 * `iothub_emulator_` prefix instead.
 */
export const iotHubMetrics = {
  connectedDeviceCount: 'Connected devices',
  totalDeviceCount: 'Total devices',
  'd2c.telemetry.ingress.success': 'Telemetry messages sent (accepted from devices)',
  'c2d.methods.success': 'Successful direct method invocations (the device answered, whatever its status)',
  'c2d.methods.failure': 'Failed direct method invocations (not online, timed out, bad response)',
  'd2c.twin.read.success': 'Successful twin reads from devices',
  'd2c.twin.read.failure': 'Failed twin reads from devices',
  'd2c.twin.update.success': 'Successful reported-property updates from devices',
  'c2d.twin.read.success': 'Successful twin reads from the back end',
  'c2d.twin.read.failure': 'Failed twin reads from the back end',
  'c2d.twin.update.success': 'Successful twin updates from the back end',
  'c2d.twin.update.failure': 'Failed twin updates from the back end',
  'twinQueries.success': 'Successful twin queries',
  'twinQueries.failure': 'Failed twin queries',
  'jobs.createDirectMethodJob.success': 'Successful creations of method invocation jobs',
  'jobs.createDirectMethodJob.failure': 'Failed creations of method invocation jobs',
  'jobs.createTwinUpdateJob.success': 'Successful creations of twin update jobs',
  'jobs.createTwinUpdateJob.failure': 'Failed creations of twin update jobs',
  'jobs.cancelJob.success': 'Successful job cancellations',
  'jobs.cancelJob.failure': 'Failed job cancellations',
  'jobs.queryJobs.success': 'Successful calls to query jobs',
  'jobs.queryJobs.failure': 'Failed calls to query jobs',
  'jobs.completed': 'Completed jobs',
  'jobs.failed': 'Failed jobs',
} as const;

export type IotHubMetricName = keyof typeof iotHubMetrics;
type CounterName = Exclude<IotHubMetricName, 'connectedDeviceCount' | 'totalDeviceCount'>;

export const prometheusName = (azureName: string): string => azureName.replace(/\./g, '_');

export interface MetricSources {
  connectedDevices(): number;
  totalDevices(): number;
}

/** The hub's Prometheus registry (one per hub, so several hubs in one test process stay apart). */
export class HubMetrics {
  readonly registry = new Registry();
  private readonly counters = new Map<CounterName, Counter>();
  private readonly jobDeviceOperations: Counter<'job_type' | 'outcome'>;
  private readonly throttled: Counter<'operation'>;
  private readonly tierDecisions: Counter<'operation' | 'outcome'>;
  private muted = 0;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    new Gauge({ name: 'connectedDeviceCount', help: iotHubMetrics.connectedDeviceCount, registers, collect() { this.set(sources.connectedDevices()); } });
    new Gauge({ name: 'totalDeviceCount', help: iotHubMetrics.totalDeviceCount, registers, collect() { this.set(sources.totalDevices()); } });
    for (const [name, help] of Object.entries(iotHubMetrics)) {
      if (name === 'connectedDeviceCount' || name === 'totalDeviceCount') continue;
      this.counters.set(name as CounterName, new Counter({ name: prometheusName(name), help, registers }));
    }
    this.jobDeviceOperations = new Counter({
      name: 'iothub_emulator_job_device_operations',
      help: 'Method calls and twin updates jobs made on single devices, by job type and outcome',
      labelNames: ['job_type', 'outcome'],
      registers,
    });
    this.tierDecisions = new Counter({
      name: 'iothub_emulator_throttled_total',
      help: "Operations the tier's throttles held back (delayed) or refused (throttled, quota), by operation class",
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.throttled = new Counter({
      name: 'iothub_emulator_throttled_requests',
      help: 'REST calls answered 429 (throttled), by operation',
      labelNames: ['operation'],
      registers,
    });
  }

  count(name: CounterName, by = 1): void {
    if (this.muted === 0) this.counters.get(name)!.inc(by);
  }

  countThrottled(operation: string): void {
    if (this.muted === 0) this.throttled.inc({ operation });
  }

  /** Runs `action` without counting what it causes (seeding is the starting state, not traffic). */
  uncounted<T>(action: () => T): T {
    this.muted++;
    try {
      return action();
    } finally {
      this.muted--;
    }
  }

  /** Counts what the services report through hub events. */
  attach(events: HubEvents): () => void {
    const onTelemetry = (): void => this.count('d2c.telemetry.ingress.success');
    const onMethod = (e: { error?: string }): void => this.count(e.error === undefined ? 'c2d.methods.success' : 'c2d.methods.failure');
    const onTwin = (e: { side: string }): void => {
      if (e.side === 'device') this.count('d2c.twin.update.success');
    };
    const onJob = (e: { status: string }): void => {
      if (e.status === 'completed') this.count('jobs.completed');
      else if (e.status === 'failed') this.count('jobs.failed');
    };
    const onJobDevice = (e: { type: string; outcome: string }): void => {
      if (this.muted === 0) this.jobDeviceOperations.inc({ job_type: e.type, outcome: e.outcome });
    };
    const onThrottle = (e: { operation: string; outcome: string }): void => {
      if (this.muted === 0) this.tierDecisions.inc({ operation: e.operation, outcome: e.outcome });
    };
    events.on('throttled', onThrottle);
    events.on('telemetry', onTelemetry);
    events.on('methodInvoked', onMethod);
    events.on('twinUpdated', onTwin);
    events.on('jobFinished', onJob);
    events.on('jobDeviceFinished', onJobDevice);
    return () => {
      events.off('throttled', onThrottle);
      events.off('telemetry', onTelemetry);
      events.off('methodInvoked', onMethod);
      events.off('twinUpdated', onTwin);
      events.off('jobFinished', onJob);
      events.off('jobDeviceFinished', onJobDevice);
    };
  }

  /**
   * Twin reads by devices raise no hub event (nothing changes), so they are counted from the
   * broker's own publish notifications. The read fails only when the device is gone by then.
   */
  observeDevicePublishes(broker: Aedes, deviceExists: (deviceId: string) => boolean): void {
    broker.on('publish', (packet, client: Client | null) => {
      if (!client || !packet.topic.startsWith('$iothub/twin/GET')) return;
      if (parseDevicePublish(client.id, packet.topic)?.kind !== 'twinGet') return;
      this.count(deviceExists(client.id) ? 'd2c.twin.read.success' : 'd2c.twin.read.failure');
    });
  }

  /** Prometheus text exposition format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Back to zero, as after a restart (Prometheus treats a counter going down as a reset). */
  reset(): void {
    this.registry.resetMetrics();
  }
}
