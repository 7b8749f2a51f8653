import type { DeviceBehaviour, DeviceKind, JsonObject } from '../devices/device-behaviour.js';
import type { DeviceLink, Engine, LinkEvents, MethodRequest } from '../engines/engine.js';
import type { FleetIdentity } from '../hub/registration.js';
import { isZero, sample } from '../scenario/distribution.js';
import { deviceChance, deviceRandom, type Random } from '../scenario/random.js';
import type { Scenario } from '../scenario/scenario.js';
import type { TelemetryTemplate } from '../scenario/telemetry-template.js';
import type { FleetStats } from './fleet-stats.js';
import type { Pacer } from './pacer.js';

/** What every device of one process shares. */
export interface DeviceRuntime {
  readonly engine: Engine;
  readonly kind: DeviceKind;
  readonly scenario: Scenario;
  readonly stats: FleetStats;
  readonly pacer: Pacer;
  readonly telemetry: TelemetryTemplate;
}

const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;
const TELEMETRY_PROPERTIES = { '$.ct': 'application/json', '$.ce': 'utf-8' };

type Phase = 'idle' | 'connecting' | 'connected' | 'away' | 'stopped';

/**
 * One simulated device: its behaviour on an engine's connection, plus what the scenario adds —
 * method latency and injected errors, telemetry, churn — and reconnection when a connection is lost.
 */
export class SimulatedDevice {
  readonly neverConnects: boolean;
  readonly churns: boolean;
  private readonly behaviour: DeviceBehaviour;
  private readonly methodRandom: Random;
  private readonly churnRandom: Random;
  private readonly telemetryRandom: Random;
  private readonly retryRandom: Random;
  private link: DeviceLink | undefined;
  private phase: Phase = 'idle';
  private timer: NodeJS.Timeout | undefined;
  private telemetryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private seq = 0;
  private connectedBefore = false;

  constructor(
    readonly identity: FleetIdentity,
    private readonly runtime: DeviceRuntime,
  ) {
    const { seed, neverConnect, churn } = runtime.scenario;
    const { index, deviceId } = identity;
    this.neverConnects = neverConnect > 0 && deviceChance(seed, index, 'never-connect') < neverConnect;
    this.churns = !this.neverConnects && churn.fraction > 0 && deviceChance(seed, index, 'churn') < churn.fraction;
    this.methodRandom = deviceRandom(seed, index, 'methods');
    this.churnRandom = deviceRandom(seed, index, 'churn-timing');
    this.telemetryRandom = deviceRandom(seed, index, 'telemetry');
    this.retryRandom = deviceRandom(seed, index, 'retry');
    this.behaviour = runtime.kind.create({ deviceId, index, random: deviceRandom(seed, index, 'behaviour'), now: Date.now });
  }

  get connected(): boolean {
    return this.phase === 'connected';
  }

  /** Read through a getter: the phase changes while this device awaits. */
  private get stopped(): boolean {
    return this.phase === 'stopped';
  }

  /** First connection attempt; resolves true when connected. Failed devices keep retrying in the background. */
  async start(): Promise<boolean> {
    if (this.neverConnects || this.phase !== 'idle') return false;
    return this.connect();
  }

  async stop(): Promise<void> {
    await this.halt()
      ?.close()
      .catch(() => {});
  }

  /** Stops everything at once and hands back the connection, for the caller to close when it suits. */
  halt(): DeviceLink | undefined {
    const wasConnected = this.phase === 'connected';
    this.phase = 'stopped';
    clearTimeout(this.timer);
    clearTimeout(this.telemetryTimer);
    const link = this.link;
    this.link = undefined;
    if (wasConnected) this.runtime.stats.counters.connected--;
    return link;
  }

  private async connect(): Promise<boolean> {
    const { stats, pacer, engine } = this.runtime;
    this.phase = 'connecting';
    let link: DeviceLink;
    let startedAt = 0;
    try {
      link = await pacer.run(() => {
        if (this.stopped) return Promise.reject(new Error('stopping'));
        stats.counters.connectAttempts++;
        startedAt = performance.now();
        return engine.connect(this.identity, this.behaviour.methods, this.events);
      });
    } catch (error) {
      if (this.stopped) return false;
      stats.counters.connectFailures++;
      stats.error('connect', error);
      this.failures++;
      this.phase = 'away';
      this.later(() => void this.connect(), this.backoff());
      return false;
    }
    if (this.stopped) {
      await link.close().catch(() => {});
      return false;
    }
    stats.recordConnectLatency(performance.now() - startedAt);
    this.link = link;
    this.phase = 'connected';
    this.failures = 0;
    stats.counters.connected++;
    if (this.connectedBefore) stats.counters.reconnects++;
    else stats.counters.everConnected++;
    this.connectedBefore = true;
    void this.syncTwin(link);
    this.startTelemetry();
    if (this.churns) this.later(() => void this.drop(), sample(this.runtime.scenario.churn.interval, this.churnRandom));
    return true;
  }

  private readonly events: LinkEvents = {
    method: (request) => this.onMethod(request),
    desired: (patch) => {
      this.runtime.stats.counters.desiredPatches++;
      const reported = this.behaviour.onDesired(patch);
      if (reported) this.report(reported);
    },
    lost: (error) => {
      if (this.phase !== 'connected') return;
      const { stats } = this.runtime;
      stats.counters.connectionsLost++;
      stats.counters.connected--;
      stats.error('connection lost', error);
      this.leave();
      this.failures++;
      this.later(() => void this.connect(), this.backoff());
    },
    renewed: () => {
      this.runtime.stats.counters.tokenRenewals++;
    },
  };

  /** The hot path: the time spent here, minus the scenario's latency, is the fleet's method overhead. */
  private onMethod(request: MethodRequest): void {
    const { scenario, stats } = this.runtime;
    stats.counters.methodCalls++;
    const fail = scenario.methods.errorProbability > 0 && this.methodRandom() < scenario.methods.errorProbability;
    if (isZero(scenario.methods.latency)) {
      this.answer(request, fail, 0);
      return;
    }
    const delay = sample(scenario.methods.latency, this.methodRandom);
    const sleptFrom = performance.now();
    setTimeout(() => this.answer(request, fail, performance.now() - sleptFrom), delay);
  }

  private answer(request: MethodRequest, fail: boolean, slept: number): void {
    const { scenario, stats } = this.runtime;
    let reported: JsonObject | undefined;
    if (fail) {
      request.respond(scenario.methods.errorStatus, { error: 'simulated failure', status: scenario.methods.errorStatus, deviceId: this.identity.deviceId });
      stats.counters.methodErrorResponses++;
    } else {
      const outcome = this.behaviour.onMethod(request.name, request.payload);
      request.respond(outcome.result.status, outcome.result.payload);
      reported = outcome.reported;
    }
    stats.counters.methodResponses++;
    stats.recordMethodOverhead(performance.now() - request.arrivedAt - slept);
    if (reported) this.report(reported);
  }

  private async syncTwin(link: DeviceLink): Promise<void> {
    try {
      const twin = await link.getTwin();
      if (link !== this.link) return;
      const reported = this.behaviour.onTwin(twin.desired, twin.reported);
      if (reported) this.report(reported);
    } catch (error) {
      if (link === this.link) this.runtime.stats.error('twin', error);
    }
  }

  private report(patch: JsonObject): void {
    const link = this.link;
    // Offline: the next twin sync reports whatever still differs.
    if (!link) return;
    const { stats } = this.runtime;
    link.reportProperties(patch).then(
      () => {
        stats.counters.reportedPatches++;
      },
      (error: unknown) => {
        if (link !== this.link) return;
        stats.counters.reportedFailures++;
        stats.error('reported properties', error);
      },
    );
  }

  private startTelemetry(): void {
    const { interval } = this.runtime.scenario.telemetry;
    if (interval <= 0) return;
    // A random phase spreads the fleet's messages evenly instead of in bursts.
    const tick = (delay: number): void => {
      this.telemetryTimer = setTimeout(() => {
        this.sendTelemetry();
        tick(interval);
      }, delay);
    };
    tick(interval * this.telemetryRandom());
  }

  private sendTelemetry(): void {
    const link = this.link;
    if (!link) return;
    const { stats, telemetry } = this.runtime;
    const body = telemetry({
      deviceId: this.identity.deviceId,
      index: this.identity.index,
      seq: ++this.seq,
      now: Date.now(),
      random: this.telemetryRandom,
      state: this.behaviour.templateValues(),
    });
    link.sendTelemetry(body, TELEMETRY_PROPERTIES).then(
      () => {
        stats.counters.telemetrySent++;
      },
      (error: unknown) => {
        if (link !== this.link) return;
        stats.counters.telemetryFailures++;
        stats.error('telemetry', error);
      },
    );
  }

  /** Churn: leave on purpose, stay away for a while, come back. */
  private async drop(): Promise<void> {
    if (this.phase !== 'connected') return;
    const { stats, scenario } = this.runtime;
    stats.counters.drops++;
    stats.counters.connected--;
    const link = this.leave();
    await link?.close().catch(() => {});
    if (this.stopped) return;
    this.later(() => void this.connect(), sample(scenario.churn.downtime, this.churnRandom));
  }

  private leave(): DeviceLink | undefined {
    clearTimeout(this.telemetryTimer);
    clearTimeout(this.timer);
    const link = this.link;
    this.link = undefined;
    this.phase = 'away';
    return link;
  }

  private later(action: () => void, delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(action, delayMs);
  }

  /** Exponential back-off with jitter, as the SDK's retry policy does. */
  private backoff(): number {
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(this.failures - 1, 10));
    return ceiling * (0.5 + 0.5 * this.retryRandom());
  }
}
