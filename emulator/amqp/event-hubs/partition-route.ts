import rhea from 'rhea';
import type { EventLog } from '../../event-hubs/index.js';
import type { LinkRoutes } from '../link-routes.js';
import { encodeDeliveryAnnotations } from './encode-event.js';
import { Ownership, type Owner } from './ownership.js';
import { parseSelector, SELECTOR_FILTER, startSequence } from './selector.js';

export interface EventHubEntity {
  /** the entity name (EntityPath), matched case-insensitively */
  readonly name: string;
  readonly log: EventLog;
  /** when the entity was created (the first start on this data directory) */
  readonly createdAt: Date;
}

const RUNTIME_METRIC = 'com.microsoft:enable-receiver-runtime-metric';
const BATCH = 256;

/**
 * Partition receivers: `<entity>/ConsumerGroups/<cg>/Partitions/<n>` (docs/protocol.md §10.10).
 * The hub sends the partition's events from the start position in the link's selector
 * filter, as credit allows, and then each new one as it is appended. Any consumer group name is
 * accepted.
 */
export function registerPartitionRoute(routes: LinkRoutes, entity: EventHubEntity): void {
  const ownership = new Ownership();
  routes.sending('{entity}/ConsumerGroups/{consumerGroup}/Partitions/{partition}', { eventHub: true }, (ctx) => {
    const { consumerGroup, partition } = ctx.params;
    if (ctx.params.entity.toLowerCase() !== entity.name.toLowerCase()) {
      return ctx.reject(
        'amqp:not-found',
        `The messaging entity '${ctx.params.entity}' could not be found; this hub's Event Hubs-compatible name is '${entity.name}'.`,
      );
    }
    const index = /^\d+$/.test(partition) ? Number(partition) : -1;
    if (index < 0 || index >= entity.log.partitionCount) {
      return ctx.reject('amqp:not-found', `Partition '${partition}' does not exist; the partitions are 0 to ${entity.log.partitionCount - 1}.`);
    }
    const link = ctx.link;
    const remote = (
      link as unknown as {
        remote: { attach: { source?: { filter?: Record<string, unknown> }; properties?: Record<string, unknown>; desired_capabilities?: string | string[] } };
      }
    ).remote.attach;
    const selector = remote.source?.filter?.[SELECTOR_FILTER];
    const position = selector === undefined ? undefined : parseSelector(String(selector));
    if (selector !== undefined && !position) {
      return ctx.reject(
        'amqp:not-implemented',
        `The selector filter '${String(selector)}' is not one the emulator understands (x-opt-offset, x-opt-sequence-number or x-opt-enqueued-time with > or >=).`,
      );
    }
    const epochValue = remote.properties?.['com.microsoft:epoch'];
    const epoch = epochValue === undefined || epochValue === null ? undefined : Number(epochValue);
    const name = String(remote.properties?.['com.microsoft:receiver-name'] ?? link.name);
    const desired = remote.desired_capabilities;
    const trackLastEnqueued = Array.isArray(desired) ? desired.includes(RUNTIME_METRIC) : desired === RUNTIME_METRIC;
    if (trackLastEnqueued) (link as unknown as { local: { attach: { offered_capabilities?: unknown } } }).local.attach.offered_capabilities = RUNTIME_METRIC;

    let stopped = false;
    const owner: Owner = {
      epoch,
      name,
      steal: (condition, description) => {
        stop();
        link.close({ condition, description });
      },
    };
    const refusal = ownership.admit(consumerGroup, partition, owner);
    if (refusal) return ctx.reject(refusal.condition, refusal.description);

    let cursor = startSequence(entity.log, index, position);
    const pump = (): void => {
      if (stopped || !link.is_open()) return;
      while (link.sendable()) {
        const credit = Math.max(1, (link as unknown as { credit: number }).credit ?? 1);
        const batch = entity.log.read(index, cursor, Math.min(credit, BATCH));
        if (batch.length === 0) return;
        for (const event of batch) {
          if (!link.sendable()) return;
          const bytes = trackLastEnqueued ? Buffer.concat([runtimeInfo(entity.log, index), event.bytes]) : event.bytes;
          link.send(bytes, undefined, 0);
          cursor = event.sequenceNumber + 1;
        }
      }
    };
    const unwatch = entity.log.watch(index, pump);
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      unwatch();
      ownership.release(consumerGroup, partition, owner);
    };
    link.on('sendable', pump);
    ctx.onClose(stop);
    // The attach reply goes out on the next tick; events follow once the client gives credit.
    setImmediate(pump);
  });
}

function runtimeInfo(log: EventLog, partition: number): Buffer {
  const info = log.info(partition);
  return encodeDeliveryAnnotations({
    last_enqueued_sequence_number: rhea.types.wrap_long(info.lastSequenceNumber),
    last_enqueued_offset: String(info.lastOffset),
    last_enqueued_time_utc: new Date(info.lastEnqueuedMs),
    runtime_info_retrieval_time_utc: new Date(),
  });
}
