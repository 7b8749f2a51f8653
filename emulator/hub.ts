import type { Aedes } from 'aedes';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { createSasToken } from '../protocol/sas.js';
import { deviceConnectionString, hubConnectionString } from '../protocol/connection-string.js';
import { Clock } from './clock.js';
import { defaultOptions, resolveHostName, type HubOptions } from './config.js';
import { HubEvents } from './events.js';
import { ServiceAuthenticator } from './identity/auth.js';
import { findPolicy } from './identity/policies.js';
import { RegistryService } from './identity/registry-service.js';
import { createLogger } from './logger.js';
import { MethodService } from './methods/method-service.js';
import { HubMetrics } from './operations/metrics.js';
import { defaultRecordingOptions, Recording, type RecordingOptions } from './operations/recording.js';
import { HubReset, type ResetHook, type ResetResult } from './operations/reset.js';
import { restMetrics } from './operations/rest-metrics.js';
import { createBroker } from './mqtt/broker.js';
import { DeviceConnections } from './mqtt/device-connections.js';
import { DeviceRouter } from './mqtt/device-router.js';
import { applyMqttDeviceFault } from './mqtt/device-faults.js';
import { attachMqttWebSocket, createMqttPlainServer, createMqttTlsServer } from './mqtt/listeners.js';
import { createRestApp, under } from './rest/app.js';
import { answerClientErrors } from './rest/client-errors.js';
import { guardListener, tlsHandshakeOptions } from './net/pending-connections.js';
import { directMethodRoute } from './rest/direct-method-route.js';
import { twinRoute } from './rest/twin-route.js';
import { devicesRouter } from './rest/devices-router.js';
import { emulatorRouter } from './rest/emulator-router.js';
import { jobsRouter } from './rest/jobs-router.js';
import { queryRouter } from './rest/query-router.js';
import { operationsRouter } from './rest/operations-router.js';
import { twinsRouter } from './rest/twins-router.js';
import { DeviceSelection } from './selection/device-selection.js';
import { openDatabase, type Db } from './store/database.js';
import { DeviceStore } from './store/device-store.js';
import { hubStorage } from './store/hub-storage.js';
import { SessionStore } from './store/session-store.js';
import { loadOrCreateCredentials } from './tls/certificates.js';
import { TwinService } from './twin/twin-service.js';
import type { JobsComponent, JobsFactory } from './jobs-api.js';
import { HTTPS_KEEP_ALIVE_MS, REST_MAX_HEADER_BYTES } from './limits.js';
import { FaultInjector } from './faults/fault-injector.js';
import { HubGate } from './faults/hub-gate.js';
import { gateMiddleware } from './rest/gate-middleware.js';
import { faultsRouter } from './rest/faults-router.js';
import { HubThrottle } from './throttle/hub-throttle.js';
import type { JobDevicePace } from './jobs-api.js';

export interface Hub {
  readonly options: HubOptions;
  /** the name in connection strings */
  readonly hostName: string;
  readonly httpsPort: number;
  readonly mqttPort: number;
  readonly plainMqttPort?: number;
  /** PEM of the local CA, and where it is on disk */
  readonly ca: string;
  readonly caPath: string;
  readonly log: Logger;
  readonly events: HubEvents;
  readonly clock: Clock;
  readonly registry: RegistryService;
  readonly twins: TwinService;
  readonly methods: MethodService;
  /** query evaluation over the device set: POST /devices/query and job fan-out */
  readonly selection: DeviceSelection;
  readonly connections: DeviceConnections;
  /** What happened on the hub, for assertions and the event stream; bounded by recordingLimit and telemetryBuffer. */
  readonly recording: Recording;
  /** Prometheus metrics under IoT Hub's own names (GET /metrics). */
  readonly metrics: HubMetrics;
  /** The chaos API's rules (also REST under /$emulator/faults): make devices or routes fail on purpose. */
  readonly faults: FaultInjector;
  /** The tier's throttles and daily quota, when a tier is set (`--tier`). */
  readonly throttle?: HubThrottle;
  /** Back to an empty hub without a restart: devices, twins, sessions, recording, metrics, and whatever reset hooks hold (jobs). */
  reset(): Promise<ResetResult>;
  /** Registers state a reset must also clear; returns the function that removes the hook. */
  onReset(hook: ResetHook): () => void;
  connectionString(policy?: string): string;
  deviceConnectionString(deviceId: string): string;
  /** A service SAS token for REST calls made without an SDK (curl). */
  serviceToken(policy?: string, validSeconds?: number): string;
  stop(): Promise<void>;
}

/** What a hub is started with beyond its options. */
export interface HubParts {
  logger?: Logger;
  /**
   * The jobs v2 component (the scheduler, which the composition root in cli/ passes). Without
   * one, /jobs/v2 answers 404 NotFound and `devices.jobs` queries return nothing.
   */
  jobs?: JobsFactory;
}

/** The hub: opens the store, builds the services, hosts the jobs component if given, starts the listeners. */
export async function openHub(partial: Partial<HubOptions & RecordingOptions> = {}, parts: HubParts = {}): Promise<Hub> {
  const options: HubOptions = { ...defaultOptions, ...partial };
  const log = parts.logger ?? createLogger(options.logLevel, options.logFormat);
  const hostName = resolveHostName(options);
  const certDir = options.certDir ?? path.join(options.dataDir, 'certs');
  const credentials = await loadOrCreateCredentials(
    certDir,
    [hostName, options.host, ...options.certNames].filter((n) => n !== '0.0.0.0' && n !== '::'),
    !options.inMemory,
  );

  const db: Db = openDatabase({ dataDir: options.dataDir, inMemory: options.inMemory });
  const store = new DeviceStore(db);
  const sessions = new SessionStore(db);
  const events = new HubEvents();
  events.setMaxListeners(0);
  const clock = new Clock();
  const connections = new DeviceConnections();
  const registry = new RegistryService(store, connections, events);
  const twins = new TwinService(store, connections, events);
  const methods = new MethodService(store, connections, events);
  const selection = new DeviceSelection(store);
  // Saying no on purpose: the tier's throttles (off unless --tier) and the chaos API's rules.
  const throttle = options.tier
    ? new HubThrottle({ tier: options.tier, units: options.units, backlogMs: options.throttleBacklogMs }, () => clock.now())
    : undefined;
  const faults = new FaultInjector({ disconnect: (select) => connections.disconnectWhere(select) });
  faults.onEvent((e) =>
    events.emit('faultRule', {
      change: e.type === 'added' ? 'added' : e.reason,
      id: e.rule.id,
      kind: e.rule.kind,
      affected: e.type === 'added' ? e.affected : undefined,
    }),
  );
  const gate = new HubGate(throttle, faults, events);
  const router = new DeviceRouter(twins, methods, connections, events, gate, (deviceId, fault) =>
    applyMqttDeviceFault(connections, faults, deviceId, fault, log),
  );
  const auth = new ServiceAuthenticator();
  const recording = new Recording({
    recordingLimit: partial.recordingLimit ?? defaultRecordingOptions.recordingLimit,
    telemetryBuffer: partial.telemetryBuffer ?? defaultRecordingOptions.telemetryBuffer,
  });
  recording.attach(events);
  const metrics = new HubMetrics({ connectedDevices: () => connections.count, totalDevices: () => registry.count() });
  metrics.attach(events);
  const resets = new HubReset({
    deviceIds: () => registry.deviceIds(),
    clearDevices: () => registry.clearAll(),
    afterDelete: (deviceId) => registry.afterDelete(deviceId),
    clearSessions: () => sessions.clear(),
    connectedCount: () => connections.count,
    clearObservations: () => {
      recording.clear();
      metrics.reset();
    },
  });
  resets.add({
    reset: () => {
      faults.clear();
      throttle?.clear();
    },
  });
  const jobs: JobsComponent | undefined = parts.jobs?.({
    options,
    twins,
    methods,
    selection,
    storage: hubStorage(db),
    clock,
    events,
    log,
    maxActiveJobs: throttle ? throttle.profile.maxActiveJobs : options.maxActiveJobs,
    jobDevicePace: throttle && jobDevicePace(throttle),
  });
  if (jobs) resets.add(jobs);
  events.on('deviceDeleted', ({ deviceId }) => sessions.forget(deviceId));

  let broker: Aedes | undefined;
  const servers: net.Server[] = [];
  let healthy = false;
  try {
    broker = await createBroker({ registry, router, connections, sessions, events, log, gate });
    metrics.observeDevicePublishes(broker, (deviceId) => registry.find(deviceId) !== undefined);
    const app = createRestApp({
      log,
      isHealthy: () => healthy,
      routers: [
        restMetrics(metrics),
        gateMiddleware(gate),
        under(['/$emulator/faults', '/$emulator/throttling'], faultsRouter(auth, faults, throttle)),
        under(['/metrics', '/$emulator'], operationsRouter({ auth, recording, metrics, reset: () => resets.run() })),
        under(['/devices/query'], queryRouter(auth, selection, jobs && ((deviceIds, afterRowid) => jobs.deviceJobs(deviceIds, afterRowid)))),
        under(['/devices', '/statistics'], devicesRouter(auth, registry, twins)),
        under(['/twins'], twinsRouter(auth, twins)),
        ...(jobs ? [under(['/jobs'], jobsRouter(auth, jobs))] : []),
        under(['/$emulator'], emulatorRouter(auth, clock)),
      ],
    });
    const directMethods = directMethodRoute(auth, methods, gate);
    const twinCalls = twinRoute(
      auth,
      twins,
      (operation, ok) => metrics.count(`${operation}.${ok ? 'success' : 'failure'}`),
      (error) => log.error({ err: error }, 'unexpected error in a REST handler'),
    );
    const serve = (req: IncomingMessage, res: ServerResponse): void => {
      // With a tier or chaos rules in force, twin calls go through express, where the gate is.
      if (!directMethods(req, res) && (!gate.idle || !twinCalls(req, res))) app(req, res);
    };
    const httpsServer = https.createServer(
      { cert: credentials.cert, key: credentials.key, minVersion: 'TLSv1.2', maxHeaderSize: REST_MAX_HEADER_BYTES, ...tlsHandshakeOptions(options) },
      serve,
    );
    httpsServer.keepAliveTimeout = HTTPS_KEEP_ALIVE_MS;
    // HTTPS connections count as pending until their TLS handshake is done (docs/protocol.md §14).
    const httpsPending = guardListener(httpsServer, 'HTTPS', options, log);
    httpsServer.on('secureConnection', (socket) => httpsPending.authenticated(socket));
    answerClientErrors(httpsServer, serve);
    attachMqttWebSocket(httpsServer, broker, options, httpsPending);
    const mqttServer = createMqttTlsServer(broker, credentials, options, log);
    const plainServer = options.plainMqttPort !== undefined ? createMqttPlainServer(broker, options, log) : undefined;

    const httpsPort = await listen(httpsServer, options.host, options.httpsPort, 'HTTPS');
    servers.push(httpsServer);
    const mqttPort = await listen(mqttServer, options.host, options.mqttPort, 'MQTT/TLS');
    servers.push(mqttServer);
    let plainMqttPort: number | undefined;
    if (plainServer) {
      plainMqttPort = await listen(plainServer, options.host, options.plainMqttPort!, 'MQTT/TCP');
      servers.push(plainServer);
    }
    jobs?.start();
    healthy = true;

    const ownedBroker = broker;
    let stopping: Promise<void> | undefined;
    const hub: Hub = {
      options,
      hostName,
      httpsPort,
      mqttPort,
      plainMqttPort,
      ca: credentials.ca,
      caPath: credentials.caPath,
      log,
      events,
      clock,
      registry,
      twins,
      methods,
      selection,
      connections,
      recording,
      metrics,
      faults,
      throttle,
      reset: () => resets.run(),
      onReset: (hook) => resets.add(hook),
      connectionString(policy = 'iothubowner') {
        const p = findPolicy(policy);
        if (!p) throw new Error(`No shared access policy named '${policy}'`);
        return hubConnectionString({ hostName, sharedAccessKeyName: p.keyName, sharedAccessKey: p.primaryKey });
      },
      deviceConnectionString(deviceId) {
        const record = registry.get(deviceId);
        const key = record.authentication.symmetricKey.primaryKey;
        if (!key) throw new Error(`Device '${deviceId}' does not use symmetric keys`);
        return deviceConnectionString({ hostName, deviceId, sharedAccessKey: key });
      },
      serviceToken(policy = 'iothubowner', validSeconds = 3600) {
        const p = findPolicy(policy);
        if (!p) throw new Error(`No shared access policy named '${policy}'`);
        return createSasToken(hostName, p.primaryKey, Math.ceil(Date.now() / 1000) + validSeconds, p.keyName);
      },
      stop() {
        stopping ??= (async () => {
          healthy = false;
          // Before methods.close(): the calls it rejects stay in flight in the job records (as after a kill).
          jobs?.stop();
          methods.close();
          connections.closeAll();
          await Promise.all(servers.map((s) => closeServer(s)));
          await new Promise<void>((resolve) => ownedBroker.close(() => resolve()));
          db.close();
        })();
        return stopping;
      },
    };
    log.debug({ hostName, httpsPort, mqttPort }, 'hub started');
    return hub;
  } catch (error) {
    jobs?.stop();
    await Promise.all(servers.map((s) => closeServer(s)));
    if (broker) await new Promise<void>((resolve) => broker!.close(() => resolve()));
    db.close();
    throw error;
  }
}

/** A job's device operations at the tier's rate (docs/protocol.md §5.6): paced, never refused. */
function jobDevicePace(throttle: HubThrottle): JobDevicePace {
  const { tier, units, rates } = throttle.profile;
  return {
    next: () => {
      const admission = throttle.admit('jobDevice');
      return admission.kind === 'later' ? admission.delayMs : 0;
    },
    description: `${Number(rates.jobDevice.toFixed(2))} device operations per second (${tier}, ${units} unit${units === 1 ? '' : 's'})`,
  };
}

function listen(server: net.Server, host: string, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const hint =
        error.code === 'EACCES'
          ? ` (ports below 1024 need privileges: run as root, grant node CAP_NET_BIND_SERVICE, or lower net.ipv4.ip_unprivileged_port_start; see the README)`
          : error.code === 'EADDRINUSE'
            ? ' (another process is listening there: stop it or pick another port)'
            : '';
      reject(new Error(`Cannot listen for ${what} on ${host}:${port}: ${error.message}${hint}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as https.Server).closeAllConnections?.();
  });
}
