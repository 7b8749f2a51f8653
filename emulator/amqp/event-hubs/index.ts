import type { Logger } from 'pino';
import { openEventLog, partitionOf, type EventLog } from '../../event-hubs/index.js';
import type { HubEvents } from '../../events.js';
import type { ClaimResult } from '../../identity/amqp-claims.js';
import type { RegistryService } from '../../identity/registry-service.js';
import type { LinkRoutes } from '../link-routes.js';
import { moduleKey } from '../../identity/module-record.js';
import { encodeEvent } from './encode-event.js';
import { registerManagementRoute } from './management-route.js';
import { registerPartitionRoute } from './partition-route.js';
import { registerRedirectRoutes } from './redirect-route.js';

export interface EventHubsOptions {
  name: string;
  partitions: number;
  retentionHours: number;
  retentionMb: number;
  /** on disk in `dataDir/events.sqlite` unless in memory */
  dataDir: string;
  inMemory: boolean;
  hostName: string;
  amqpPort(): number;
}

export interface EventHubsEndpoint {
  readonly name: string;
  readonly log: EventLog;
  /** drops retained events (hub reset); numbering carries on */
  reset(): void;
  close(): void;
}

/**
 * The built-in Event Hubs-compatible endpoint (docs/protocol.md §10): every device
 * message on the hub's telemetry path (MQTT and AMQP devices, telemetry and Will) becomes an
 * event on its device's partition; `$management`, partition receivers and the redirect from the
 * hub's own `messages/events` are served on the AMQP face.
 */
export function startEventHubs(
  routes: LinkRoutes,
  options: EventHubsOptions,
  deps: { events: HubEvents; registry: RegistryService; verify(audience: string, token: string): ClaimResult; log: Logger },
): EventHubsEndpoint {
  const { log, createdAt } = openEventLog(options);
  const entity = { name: options.name, log, createdAt };

  const onTelemetry = ({
    deviceId,
    moduleId,
    payload,
    properties,
    enqueuedTime,
  }: {
    deviceId: string;
    moduleId?: string;
    payload: Buffer;
    properties: Record<string, string | null>;
    enqueuedTime: string;
  }): void => {
    const enqueuedMs = Date.parse(enqueuedTime) || Date.now();
    // A module's events carry its module id and its own generation id (docs/protocol.md §12.3); they share its device's partition.
    const identity = moduleId === undefined ? deps.registry.find(deviceId) : deps.registry.findIdentity(moduleKey(deviceId, moduleId));
    const generationId = identity?.generationId ?? '';
    const partition = partitionOf(deviceId, log.partitionCount);
    const event = log.append(partition, enqueuedMs, (sequenceNumber, offset) =>
      encodeEvent({ deviceId, moduleId, generationId, payload, properties, enqueuedMs }, sequenceNumber, offset),
    );
    deps.events.emit('telemetryRouted', { deviceId, endpoint: 'events', partitionId: String(partition), sequenceNumber: event.sequenceNumber });
  };
  deps.events.on('telemetry', onTelemetry);

  registerManagementRoute(routes, entity, deps);
  registerPartitionRoute(routes, entity);
  registerRedirectRoutes(routes, { hostName: options.hostName, entityName: options.name, port: options.amqpPort });

  return {
    name: options.name,
    log,
    reset: () => log.clear(),
    close() {
      deps.events.off('telemetry', onTelemetry);
      log.close();
    },
  };
}
