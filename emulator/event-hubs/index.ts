// The Event Hubs-compatible endpoint's state (docs/protocol.md §10): partitions, their
// events and retention. The AMQP face serves it (emulator/amqp/event-hubs/).
import { EventStore } from '../store/event-store.js';
import { EventLog } from './event-log.js';

export { EventLog, type EventLogOptions, type PartitionInfo, type StoredEvent } from './event-log.js';
export { partitionOf } from './partitioner.js';

/** Opens the partitions: on disk in `dataDir/events.sqlite`, or in memory only. */
export function openEventLog(options: { partitions: number; retentionHours: number; retentionMb: number; dataDir: string; inMemory: boolean }): {
  log: EventLog;
  createdAt: Date;
} {
  const store = options.inMemory ? undefined : new EventStore(options.dataDir);
  const createdAt = new Date(store ? Number(store.meta('created_at', () => String(Date.now()))) : Date.now());
  return { log: new EventLog({ partitions: options.partitions, retentionHours: options.retentionHours, retentionMb: options.retentionMb, store }), createdAt };
}
