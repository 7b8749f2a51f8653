import type { Aedes } from 'aedes';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { createSasToken } from '../protocol/sas.js';
import { deviceConnectionString, eventHubsConnectionString, hubConnectionString, moduleConnectionString } from '../protocol/connection-string.js';
import { CloudToDeviceService, FeedbackService } from './c2d/index.js';
import { Clock } from './clock.js';
import { defaultOptions, resolveEventHubName, resolveHostName, type HubOptions } from './config.js';
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
import { attachC2dDelivery } from './mqtt/c2d-delivery.js';
import { DeviceConnections } from './mqtt/device-connections.js';
import { DeviceChannels } from './device-channels.js';
import { OneConnectionPerDevice } from './device-presence.js';
import { AmqpDeviceLinks } from './amqp/device-links.js';
import { DeviceRouter } from './mqtt/device-router.js';
import { applyMqttDeviceFault } from './mqtt/device-faults.js';
import { amqpConnectGate } from './amqp/connect-gate.js';
import { applyAmqpDeviceFault } from './amqp/device-faults.js';
import { attachMqttWebSocket, createMqttPlainServer, createMqttTlsServer } from './mqtt/listeners.js';
import { createRestApp, under } from './rest/app.js';
import { answerClientErrors } from './rest/client-errors.js';
import { guardListener, tlsHandshakeOptions } from './net/pending-connections.js';
import { c2dRouter } from './rest/c2d-router.js';
import { directMethodRoute } from './rest/direct-method-route.js';
import { twinRoute } from './rest/twin-route.js';
import { devicesRouter } from './rest/devices-router.js';
import { modulesRouter } from './rest/modules-router.js';
import { emulatorRouter } from './rest/emulator-router.js';
import { jobsRouter } from './rest/jobs-router.js';
import { queryRouter } from './rest/query-router.js';
import { operationsRouter } from './rest/operations-router.js';
import { twinsRouter } from './rest/twins-router.js';
import { bulkRoute } from './rest/bulk-route.js';
import { C2dStore } from './store/c2d-store.js';
import { DeviceSelection } from './selection/device-selection.js';
import { queryIndexSettings } from './selection/index-settings.js';
import { openDatabase, type Db } from './store/database.js';
import { lockDataDir } from './store/data-dir-lock.js';
import { DeviceStore } from './store/device-store.js';
import { ModuleStore } from './store/module-store.js';
import { ConfigurationStore } from './store/configuration-store.js';
import { ConfigurationService } from './configurations/configuration-service.js';
import { configurationsRouter } from './rest/configurations-router.js';
import { hubStorage } from './store/hub-storage.js';
import { SessionStore } from './store/session-store.js';
import { resolveCaDir } from './tls/ca-location.js';
import { loadOrCreateCredentials } from './tls/certificates.js';
import { logHandshakeFailures } from './tls/handshake-failures.js';
import { TwinService } from './twin/twin-service.js';
import { AmqpServer, registerTelemetryRoute } from './amqp/index.js';
import { startEventHubs, type EventHubsEndpoint } from './amqp/event-hubs/index.js';
import { verifyAmqpToken } from './identity/amqp-claims.js';
import { registerServiceC2dRoutes } from './amqp/c2d-service-routes.js';
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
  readonly amqpPort: number;
  readonly plainAmqpPort?: number;
  /** the AMQP face: link routes for other parts to register on (emulator/amqp/link-routes.ts) */
  readonly amqp: AmqpServer;
  /** the Event Hubs-compatible endpoint's partitions */
  readonly eventHubs: EventHubsEndpoint;
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
  /** the devices and modules connected over AMQP, as the services reach them (their DeviceChannel) */
  readonly amqpDevices: AmqpDeviceLinks;
  /** cloud-to-device queues and their feedback (docs/protocol.md §11) */
  readonly c2d: CloudToDeviceService;
  readonly feedback: FeedbackService;
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
  /** the Event Hubs-compatible name (EntityPath) */
  readonly eventHubName: string;
  /** `Endpoint=sb://HOST/;…;EntityPath=NAME`; `{ plain: true }` for the plain-AMQP port with UseDevelopmentEmulator=true */
  eventHubConnectionString(policy?: string, options?: { plain?: boolean }): string;
  deviceConnectionString(deviceId: string): string;
  /** A module identity's connection string, for `ModuleClient.fromConnectionString`. */
  moduleConnectionString(deviceId: string, moduleId: string): string;
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
  const eventHubName = resolveEventHubName(options);
  const certDir = options.certDir ?? path.join(options.dataDir, 'certs');
  const names = [hostName, options.host, ...options.certNames].filter((n) => n !== '0.0.0.0' && n !== '::');
  const credentials = await loadOrCreateCredentials(certDir, names, !options.inMemory, resolveCaDir(options));

  // Before the store opens: a second emulator on the same SQLite files would share their state.
  const lock = options.inMemory ? undefined : lockDataDir(options.dataDir, `${options.host}:${options.httpsPort}`);
  let db: Db;
  try {
    db = openDatabase({ dataDir: options.dataDir, inMemory: options.inMemory });
  } catch (error) {
    lock?.release();
    throw error;
  }
  const modules = new ModuleStore(db);
  // In memory nothing outlives the process: cached twins are written when they leave the cache (DeviceStore).
  const store = new DeviceStore(db, modules, { cacheSize: options.deviceCacheSize, holdTwinWrites: options.inMemory });
  const sessions = new SessionStore(db, (error) => log.warn({ err: error }, 'could not save MQTT session subscriptions (kept, tried again)'));
  const events = new HubEvents();
  events.setMaxListeners(0);
  const clock = new Clock();
  const connections = new DeviceConnections();
  // The services reach devices on whichever face holds them (MQTT now, AMQP once its face is built).
  const channels = new DeviceChannels(connections);
  const registry = new RegistryService(store, modules, channels, events);
  const twins = new TwinService(store, modules, channels, events);
  const methods = new MethodService(store, modules, channels, events);
  const presence = new OneConnectionPerDevice(registry, events, connections);
  const selection = new DeviceSelection(
    store,
    modules,
    queryIndexSettings(options.queryIndex, options.queryIndexAfter, options.queryIndexBuild, options.queryIndexBuildSlice),
  );
  const configurations = new ConfigurationService(new ConfigurationStore(db), selection, twins, events, clock);
  // Saying no on purpose: the tier's throttles (off unless --tier) and the chaos API's rules.
  const throttle = options.tier
    ? new HubThrottle({ tier: options.tier, units: options.units, backlogMs: options.throttleBacklogMs }, () => clock.now())
    : undefined;
  const faults = new FaultInjector({ disconnect: (select) => [...connections.disconnectWhere(select), ...presence.disconnectWhere(select)] });
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
  const metrics = new HubMetrics({ connectedDevices: () => connections.count + presence.count, totalDevices: () => registry.count() });
  metrics.attach(events);
  const resets = new HubReset({
    deviceIds: () => registry.deviceIds(),
    clearDevices: () => registry.clearAll(),
    afterDelete: (deviceId) => registry.afterDelete(deviceId),
    clearSessions: () => sessions.clear(),
    connectedCount: () => connections.count + presence.count,
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
  const c2dStore = new C2dStore(db);
  const feedback = new FeedbackService(c2dStore);
  const c2d = new CloudToDeviceService(c2dStore, registry, feedback, events, {
    defaultTtlMs: options.c2dDefaultTtlSeconds * 1000,
    maxDeliveryCount: options.c2dMaxDeliveryCount,
  });
  resets.add({ reset: () => c2d.clear() });
  events.on('deviceDeleted', ({ deviceId }) => c2d.dropDevice(deviceId));
  resets.add({ reset: () => configurations.clear() });
  events.on('deviceDeleted', ({ deviceId }) => sessions.forget(deviceId));

  // What is kept in memory and written in batches (docs/scaling.md §3.3), written before the store closes.
  const saveInMemoryState = (): void => {
    try {
      sessions.flush();
      registry.saveConnectionStates();
    } catch (error) {
      log.warn({ err: error }, 'could not save MQTT sessions and connection states at stop');
    }
  };

  let broker: Aedes | undefined;
  let eventHubs: EventHubsEndpoint | undefined;
  const servers: net.Server[] = [];
  const keepServer = (server: net.Server): void => {
    trackSockets(server);
    servers.push(server);
  };
  let healthy = false;
  try {
    broker = await createBroker({ registry, router, connections, sessions, events, log, gate });
    attachC2dDelivery(broker, c2d, log);
    metrics.observeDevicePublishes(broker, (clientId) => registry.findIdentity(clientId) !== undefined);
    const app = createRestApp({
      log,
      isHealthy: () => healthy,
      routers: [
        restMetrics(metrics),
        gateMiddleware(gate),
        under(['/$emulator/faults', '/$emulator/throttling'], faultsRouter(auth, faults, throttle)),
        under(['/metrics', '/$emulator'], operationsRouter({ auth, recording, metrics, reset: () => resets.run() })),
        under(['/devices/query'], queryRouter(auth, selection, jobs && ((deviceIds, afterRowid) => jobs.deviceJobs(deviceIds, afterRowid)))),
        under(['/devices'], c2dRouter(auth, c2d)),
        under(['/devices', '/statistics'], devicesRouter(auth, registry, twins)),
        under(['/devices'], modulesRouter(auth, registry)),
        under(['/configurations', '/devices'], configurationsRouter(auth, configurations)),
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
    const bulkCalls = bulkRoute(auth, registry, twins, (error) => log.error({ err: error }, 'unexpected error in a REST handler'));
    const serve = (req: IncomingMessage, res: ServerResponse): void => {
      // With a tier or chaos rules in force, twin and bulk registry calls go through express, where the gate is.
      if (!directMethods(req, res) && (!gate.idle || (!twinCalls(req, res) && !bulkCalls(req, res)))) app(req, res);
    };
    const httpsServer = https.createServer(
      { cert: credentials.cert, key: credentials.key, minVersion: 'TLSv1.2', maxHeaderSize: REST_MAX_HEADER_BYTES, ...tlsHandshakeOptions(options) },
      serve,
    );
    httpsServer.keepAliveTimeout = HTTPS_KEEP_ALIVE_MS;
    const verify = (audience: string, token: string) => verifyAmqpToken(audience, token, registry);
    const amqp = new AmqpServer({ verify, presence, log: log.child({ face: 'amqp' }), admitDevice: amqpConnectGate(gate, events, log) });
    registerTelemetryRoute(amqp.routes, {
      registry,
      events,
      log,
      gate,
      onDeviceFault: (deviceId, fault, peer, link) => applyAmqpDeviceFault(faults, deviceId, fault, peer, link, events, log),
    });
    registerServiceC2dRoutes(amqp.routes, { c2d, feedback, hubName: hostName.split('.')[0], log, gate });
    const amqpDevices = new AmqpDeviceLinks({
      c2d,
      methods,
      twins,
      hubName: hostName.split('.')[0],
      log,
      connectedPeers: (key) => presence.amqpPeersOf(key),
      countTwinRead: (ok) => metrics.count(ok ? 'd2c.twin.read.success' : 'd2c.twin.read.failure'),
      gate,
    });
    amqpDevices.register(amqp.routes);
    channels.add(amqpDevices);
    let boundAmqpPort = options.amqpPort;
    eventHubs = startEventHubs(
      amqp.routes,
      {
        name: eventHubName,
        partitions: options.partitions,
        retentionHours: options.retentionHours,
        retentionMb: options.retentionMb,
        dataDir: options.dataDir,
        inMemory: options.inMemory,
        hostName,
        amqpPort: () => boundAmqpPort,
      },
      { events, registry, verify, log },
    );
    const ownedEventHubs = eventHubs;
    resets.add({ reset: () => ownedEventHubs.reset() });
    // HTTPS connections count as pending until their TLS handshake is done (docs/protocol.md §14).
    const httpsPending = guardListener(httpsServer, 'HTTPS', options, log);
    httpsServer.on('secureConnection', (socket) => httpsPending.authenticated(socket));
    answerClientErrors(httpsServer, serve);
    attachMqttWebSocket(httpsServer, broker, options, httpsPending, amqp);
    const amqpServer = amqp.createTlsServer(credentials, options, log);
    const plainAmqpServer = options.plainAmqpPort !== undefined ? amqp.createPlainServer(options, log) : undefined;
    const mqttServer = createMqttTlsServer(broker, credentials, options, log);
    logHandshakeFailures(httpsServer, 'HTTPS', credentials.caPath, log);
    logHandshakeFailures(mqttServer, 'MQTT/TLS', credentials.caPath, log);
    logHandshakeFailures(amqpServer, 'AMQP/TLS', credentials.caPath, log);
    const plainServer = options.plainMqttPort !== undefined ? createMqttPlainServer(broker, options, log) : undefined;

    const httpsPort = await listen(httpsServer, options.host, options.httpsPort, 'HTTPS');
    keepServer(httpsServer);
    const mqttPort = await listen(mqttServer, options.host, options.mqttPort, 'MQTT/TLS');
    keepServer(mqttServer);
    let plainMqttPort: number | undefined;
    if (plainServer) {
      plainMqttPort = await listen(plainServer, options.host, options.plainMqttPort!, 'MQTT/TCP');
      keepServer(plainServer);
    }
    const amqpPort = await listen(amqpServer, options.host, options.amqpPort, 'AMQP/TLS');
    boundAmqpPort = amqpPort;
    keepServer(amqpServer);
    let plainAmqpPort: number | undefined;
    if (plainAmqpServer) {
      plainAmqpPort = await listen(plainAmqpServer, options.host, options.plainAmqpPort!, 'AMQP/TCP');
      keepServer(plainAmqpServer);
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
      amqpPort,
      plainAmqpPort,
      amqp,
      eventHubs: ownedEventHubs,
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
      amqpDevices,
      c2d,
      feedback,
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
      eventHubName,
      eventHubConnectionString(policy = 'iothubowner', { plain = false } = {}) {
        const p = findPolicy(policy);
        if (!p) throw new Error(`No shared access policy named '${policy}'`);
        if (plain && plainAmqpPort === undefined) throw new Error('The plain AMQP port is off (start with --amqp-plain-port)');
        const port = plain ? plainAmqpPort : amqpPort === 5671 ? undefined : amqpPort;
        return eventHubsConnectionString({
          host: hostName,
          port,
          sharedAccessKeyName: p.keyName,
          sharedAccessKey: p.primaryKey,
          entityPath: eventHubName,
          developmentEmulator: plain,
        });
      },
      deviceConnectionString(deviceId) {
        const record = registry.get(deviceId);
        const key = record.authentication.symmetricKey.primaryKey;
        if (!key) throw new Error(`Device '${deviceId}' does not use symmetric keys`);
        return deviceConnectionString({ hostName, deviceId, sharedAccessKey: key });
      },
      moduleConnectionString(deviceId, moduleId) {
        const key = registry.getModule(deviceId, moduleId).authentication.symmetricKey.primaryKey;
        if (!key) throw new Error(`Module '${deviceId}/${moduleId}' does not use symmetric keys`);
        return moduleConnectionString({ hostName, deviceId, moduleId, sharedAccessKey: key });
      },
      serviceToken(policy = 'iothubowner', validSeconds = 3600) {
        const p = findPolicy(policy);
        if (!p) throw new Error(`No shared access policy named '${policy}'`);
        return createSasToken(hostName, p.primaryKey, Math.ceil(Date.now() / 1000) + validSeconds, p.keyName);
      },
      stop() {
        stopping ??= (async () => {
          healthy = false;
          selection.stop();
          // Before methods.close(): the calls it rejects stay in flight in the job records (as after a kill).
          jobs?.stop();
          methods.close();
          connections.closeAll();
          amqpDevices.closeAll();
          amqp.closeAll();
          await Promise.all(servers.map((s) => closeServer(s)));
          await new Promise<void>((resolve) => ownedBroker.close(() => resolve()));
          c2d.close();
          ownedEventHubs.close();
          saveInMemoryState();
          db.close();
          lock?.release();
        })();
        return stopping;
      },
    };
    // Listening and ready: the declared query indexes are built from here on, between requests.
    selection.startBackgroundBuilds();
    log.debug({ hostName, httpsPort, mqttPort }, 'hub started');
    return hub;
  } catch (error) {
    jobs?.stop();
    await Promise.all(servers.map((s) => closeServer(s)));
    if (broker) await new Promise<void>((resolve) => broker!.close(() => resolve()));
    c2d.close();
    eventHubs?.close();
    db.close();
    lock?.release();
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
            ? port === 443
              ? ` (another process, perhaps another emulator, is listening there; the service SDK only calls port 443, so start this one on another loopback address: --host ${otherLoopback(host)})`
              : ' (another process is listening there: stop it or pick another port)'
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

/** A loopback address next to `host` (Linux routes all of 127.0.0.0/8 to loopback). */
function otherLoopback(host: string): string {
  const last = /^127\.0\.0\.(\d+)$/.exec(host)?.[1];
  return last && Number(last) >= 2 && Number(last) < 254 ? `127.0.0.${Number(last) + 1}` : '127.0.0.2';
}

/** Every server's accepted sockets, so a stop can end those no face holds yet (closeServer). */
const openSockets = new WeakMap<net.Server, Set<net.Socket>>();

function trackSockets(server: net.Server): void {
  const sockets = new Set<net.Socket>();
  openSockets.set(server, sockets);
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as https.Server).closeAllConnections?.();
    // A socket accepted but not yet a face's client (a device SDK reconnecting mid-handshake as
    // the hub stops) would hold close() open until its TLS handshake timed out.
    for (const socket of openSockets.get(server) ?? []) socket.destroy();
  });
}
