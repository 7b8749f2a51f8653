import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  DASHBOARD_FLUSH_INTERVAL_MS,
  DASHBOARD_MAX_BUFFERED_BYTES,
  DASHBOARD_MAX_ENTRIES_PER_FLUSH,
  DASHBOARD_MAX_WATCHED_DEVICES,
  type HubEvents,
  type RecordedEntry,
  type Recording,
  type RegistryService,
} from '../../emulator/index.js';
import { ACTIVE_JOB_STATUSES } from '../../scheduler/job-model.js';
import type { Scheduler } from '../../scheduler/scheduler.js';
import { deviceRow, type DeviceRow } from './device-rows.js';
import type { HubSampler } from './hub-sampler.js';

const HEARTBEAT_MS = 15_000;
/** While a job is active its statistics move without an event per change: resend this often. */
const ACTIVE_JOBS_EVERY_MS = 500;
/** With a tier set, the Faults page's quota figure is resent this often (it moves without an event). */
const THROTTLING_EVERY_MS = 1000;

export interface LiveSources {
  events: HubEvents;
  recording: Recording;
  registry: RegistryService;
  scheduler: Scheduler;
  sampler: HubSampler;
  faults: { list(): unknown[]; onEvent(listener: () => void): () => void };
  /** the Faults page's throttle figures: iothub_emulator_throttled_total and the day's quota */
  throttled(): Promise<unknown>;
  /** a tier is set: its daily quota moves with every message, so the figures are resent now and then */
  tier: boolean;
  connected(): number;
}

/** One open page: which devices it shows, and what is waiting for the next flush. */
interface LiveClient {
  res: ServerResponse;
  /** rows of the devices table on screen */
  rows: Set<string>;
  /** the device whose page is open: its telemetry, twin, method and connection entries */
  device?: string;
  jobs: boolean;
  /** the Faults page: the rule list whenever a rule is added, removed or expires */
  faults: boolean;
  dirtyRows: Set<string>;
  entries: RecordedEntry[];
  droppedEntries: number;
}

/**
 * Server-sent events for every open page. Hub events only mark what changed (a device id in a
 * set, an entry in a short queue); a timer every DASHBOARD_FLUSH_INTERVAL_MS sends each page one
 * batch of what it shows. With 2,000 devices churning, a page watching 50 rows gets at most 50
 * rows ten times a second, whatever the event rate. Nothing listens while no page is open.
 */
export class LiveUpdates {
  private readonly clients = new Set<LiveClient>();
  /** device id → the clients whose table shows it */
  private readonly byRow = new Map<string, Set<LiveClient>>();
  private readonly byDevice = new Map<string, Set<LiveClient>>();
  private flushTimer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private detach?: () => void;
  private summaryDirty = false;
  private jobsDirty = false;
  private faultsDirty = false;
  private throttledDirty = false;
  private readingThrottled = false;
  private lastThrottledSent = 0;
  private lastJobsSent = 0;
  private lastSummary = { registered: -1, connected: -1 };

  constructor(private readonly sources: LiveSources) {}

  /** `GET /api/live?rows=a&rows=b&device=x&jobs=1` (one `rows` per id: device ids may contain commas) */
  open(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): void {
    const rows = new Set(params.getAll('rows').filter(Boolean).slice(0, DASHBOARD_MAX_WATCHED_DEVICES));
    const client: LiveClient = {
      res,
      rows,
      device: params.get('device') || undefined,
      jobs: params.get('jobs') === '1',
      faults: params.get('faults') === '1',
      dirtyRows: new Set(),
      entries: [],
      droppedEntries: 0,
    };
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    req.socket.setNoDelay(true);
    res.write('retry: 2000\n\n');
    this.add(client);
    this.send(client, 'summary', this.summary());
    if (client.jobs) this.send(client, 'jobs', this.sources.scheduler.list(undefined, undefined).jobs);
    const close = (): void => this.remove(client);
    res.on('close', close);
    res.on('error', close);
  }

  close(): void {
    for (const client of [...this.clients]) {
      this.remove(client);
      client.res.end();
    }
  }

  private add(client: LiveClient): void {
    if (this.clients.size === 0) this.attach();
    this.clients.add(client);
    for (const id of client.rows) index(this.byRow, id, client);
    if (client.device) index(this.byDevice, client.device, client);
  }

  private remove(client: LiveClient): void {
    if (!this.clients.delete(client)) return;
    for (const id of client.rows) unindex(this.byRow, id, client);
    if (client.device) unindex(this.byDevice, client.device, client);
    if (this.clients.size === 0) this.stopListening();
  }

  private attach(): void {
    const { events, recording, sampler } = this.sources;
    const onConnection = (e: { deviceId: string }): void => {
      this.summaryDirty = true;
      this.markRow(e.deviceId);
    };
    const onMembership = (e: { deviceId: string }): void => {
      this.summaryDirty = true;
      this.markRow(e.deviceId);
    };
    // A row's "last activity" moves with its messages too (the registry keeps it to the second).
    const onTelemetry = (e: { deviceId: string }): void => this.markRow(e.deviceId);
    // The modules column, and the device page's module list (it refetches when the count moves).
    const onModule = (e: { deviceId: string }): void => this.markRow(e.deviceId);
    const onThrottled = (): void => {
      this.throttledDirty = true;
    };
    const onJob = (): void => {
      this.jobsDirty = true;
    };
    const onEntry = (entry: RecordedEntry): void => {
      const watchers = this.byDevice.get(entry.deviceId);
      if (watchers === undefined || entry.kind === 'device') return;
      for (const client of watchers) {
        if (client.entries.length < DASHBOARD_MAX_ENTRIES_PER_FLUSH) client.entries.push(entry);
        else client.droppedEntries++;
      }
    };
    const onSample = (sample: unknown): void => {
      for (const client of this.clients) this.send(client, 'sample', sample);
    };
    events.on('deviceConnected', onConnection);
    events.on('deviceDisconnected', onConnection);
    events.on('deviceCreated', onMembership);
    events.on('deviceDeleted', onMembership);
    events.on('telemetry', onTelemetry);
    events.on('moduleCreated', onModule);
    events.on('moduleDeleted', onModule);
    events.on('throttled', onThrottled);
    events.on('jobFinished', onJob);
    events.on('jobDeviceFinished', onJob);
    const stopEntries = recording.subscribe(onEntry);
    const stopSamples = sampler.onSample(onSample);
    const stopFaults = this.sources.faults.onEvent(() => {
      this.faultsDirty = true;
    });
    this.flushTimer = setInterval(() => this.flush(), DASHBOARD_FLUSH_INTERVAL_MS);
    this.flushTimer.unref();
    this.heartbeat = setInterval(() => {
      for (const client of this.clients) client.res.write(': keep-alive\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    this.detach = () => {
      events.off('deviceConnected', onConnection);
      events.off('deviceDisconnected', onConnection);
      events.off('deviceCreated', onMembership);
      events.off('deviceDeleted', onMembership);
      events.off('telemetry', onTelemetry);
      events.off('moduleCreated', onModule);
      events.off('moduleDeleted', onModule);
      events.off('throttled', onThrottled);
      events.off('jobFinished', onJob);
      events.off('jobDeviceFinished', onJob);
      stopEntries();
      stopSamples();
      stopFaults();
    };
  }

  private stopListening(): void {
    clearInterval(this.flushTimer);
    clearInterval(this.heartbeat);
    this.detach?.();
    this.detach = undefined;
  }

  private markRow(deviceId: string): void {
    const watchers = this.byRow.get(deviceId);
    if (watchers) for (const client of watchers) client.dirtyRows.add(deviceId);
  }

  /** One batch per page: changed rows, the device's new entries, counts and jobs when they moved. */
  private flush(): void {
    const summary = this.summaryDirty || this.countsMoved() ? this.summary() : undefined;
    this.summaryDirty = false;
    const now = Date.now();
    let jobs: unknown[] | undefined;
    const wantJobs = [...this.clients].some((c) => c.jobs);
    if (wantJobs && (this.jobsDirty || now - this.lastJobsSent >= ACTIVE_JOBS_EVERY_MS)) {
      const list = this.sources.scheduler.list(undefined, undefined).jobs;
      if (this.jobsDirty || list.some((job) => ACTIVE_JOB_STATUSES.has(job.status))) jobs = list;
      this.jobsDirty = false;
      this.lastJobsSent = now;
    }
    const faults = this.faultsDirty ? this.sources.faults.list() : undefined;
    this.faultsDirty = false;
    const throttlingDue = this.sources.tier && now - this.lastThrottledSent >= THROTTLING_EVERY_MS;
    if ((this.throttledDirty || throttlingDue) && !this.readingThrottled) this.sendThrottled(now);
    for (const client of this.clients) {
      if (summary) this.send(client, 'summary', summary);
      if (faults && client.faults) this.send(client, 'faults', faults);
      if (client.dirtyRows.size > 0) {
        const rows: DeviceRow[] = [];
        const removed: string[] = [];
        for (const id of client.dirtyRows) {
          const record = this.sources.registry.find(id);
          if (record) rows.push(deviceRow(record, this.sources.registry));
          else removed.push(id);
        }
        client.dirtyRows.clear();
        this.send(client, 'rows', { rows, removed });
      }
      if (client.entries.length > 0) {
        this.send(client, 'entries', { entries: client.entries, dropped: client.droppedEntries });
        client.entries = [];
        client.droppedEntries = 0;
      }
      if (jobs && client.jobs) this.send(client, 'jobs', jobs);
    }
  }

  /** The Faults page's throttle counts, at most once a batch however many decisions the tier makes. */
  private sendThrottled(now: number): void {
    this.throttledDirty = false;
    this.lastThrottledSent = now;
    const watchers = [...this.clients].filter((c) => c.faults);
    if (watchers.length === 0) return;
    this.readingThrottled = true;
    this.sources.throttled().then(
      (counts) => {
        this.readingThrottled = false;
        for (const client of watchers) this.send(client, 'throttled', counts);
      },
      () => {
        this.readingThrottled = false;
      },
    );
  }

  private countsMoved(): boolean {
    return this.sources.connected() !== this.lastSummary.connected || this.sources.registry.count() !== this.lastSummary.registered;
  }

  private summary(): { registered: number; connected: number } {
    this.lastSummary = { registered: this.sources.registry.count(), connected: this.sources.connected() };
    return this.lastSummary;
  }

  private send(client: LiveClient, event: string, data: unknown): void {
    if (!this.clients.has(client)) return;
    client.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    // A page that stopped reading (a frozen tab) is cut off rather than buffered without bound.
    if (client.res.writableLength > DASHBOARD_MAX_BUFFERED_BYTES) {
      this.remove(client);
      client.res.destroy();
    }
  }
}

function index(map: Map<string, Set<LiveClient>>, id: string, client: LiveClient): void {
  let set = map.get(id);
  if (!set) {
    set = new Set();
    map.set(id, set);
  }
  set.add(client);
}

function unindex(map: Map<string, Set<LiveClient>>, id: string, client: LiveClient): void {
  const set = map.get(id);
  if (!set) return;
  set.delete(client);
  if (set.size === 0) map.delete(id);
}
