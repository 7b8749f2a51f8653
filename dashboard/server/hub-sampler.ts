import { DASHBOARD_SERIES_SECONDS, type HubEvents } from '../../emulator/index.js';
import { ACTIVE_JOB_STATUSES } from '../../scheduler/job-model.js';
import type { Scheduler } from '../../scheduler/scheduler.js';

/** One second of the hub, as the hub page's charts plot it. */
export interface HubSample {
  /** Unix seconds (wall clock) */
  t: number;
  registered: number;
  connected: number;
  /** device-to-cloud messages in this second */
  telemetry: number;
  /** direct-method calls (answered or not) in this second */
  methods: number;
  methodFailures: number;
  /** twin updates (service and device side) in this second */
  twinUpdates: number;
  activeJobs: number;
}

export interface SamplerSources {
  events: HubEvents;
  registered(): number;
  connected(): number;
  scheduler: Scheduler;
}

/**
 * Counts what the hub announces and keeps one sample a second for the last few minutes. The
 * listeners only add to counters, so a busy fleet costs an increment per event; the timer does
 * the rest once a second.
 */
export class HubSampler {
  private readonly samples: HubSample[] = [];
  private telemetry = 0;
  private methods = 0;
  private methodFailures = 0;
  private twinUpdates = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly detach: () => void;
  private readonly listeners = new Set<(sample: HubSample) => void>();

  constructor(private readonly sources: SamplerSources) {
    const onTelemetry = (): void => void this.telemetry++;
    const onMethod = (e: { error?: string }): void => {
      this.methods++;
      if (e.error !== undefined) this.methodFailures++;
    };
    const onTwin = (): void => void this.twinUpdates++;
    sources.events.on('telemetry', onTelemetry);
    sources.events.on('methodInvoked', onMethod);
    sources.events.on('twinUpdated', onTwin);
    this.detach = () => {
      sources.events.off('telemetry', onTelemetry);
      sources.events.off('methodInvoked', onMethod);
      sources.events.off('twinUpdated', onTwin);
    };
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  history(): HubSample[] {
    return this.samples.slice();
  }

  /** The figures of this moment (counters so far in the current second). */
  now(): HubSample {
    return this.build();
  }

  onSample(listener: (sample: HubSample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    clearInterval(this.timer);
    this.detach();
    this.listeners.clear();
  }

  private build(): HubSample {
    let activeJobs = 0;
    for (const job of this.sources.scheduler.list(undefined, undefined).jobs) if (ACTIVE_JOB_STATUSES.has(job.status)) activeJobs++;
    return {
      t: Math.floor(Date.now() / 1000),
      registered: this.sources.registered(),
      connected: this.sources.connected(),
      telemetry: this.telemetry,
      methods: this.methods,
      methodFailures: this.methodFailures,
      twinUpdates: this.twinUpdates,
      activeJobs,
    };
  }

  private sample(): void {
    const sample = this.build();
    this.telemetry = this.methods = this.methodFailures = this.twinUpdates = 0;
    this.samples.push(sample);
    if (this.samples.length > DASHBOARD_SERIES_SECONDS) this.samples.shift();
    for (const listener of this.listeners) listener(sample);
  }
}
