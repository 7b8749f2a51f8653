import type { EventStore, StoredEvent } from '../store/event-store.js';

export type { StoredEvent } from '../store/event-store.js';

export interface EventLogOptions {
  partitions: number;
  retentionHours: number;
  retentionMb: number;
  /** on disk when given; otherwise every retained event stays in memory */
  store?: EventStore;
}

/** What `$management` reports for a partition. */
export interface PartitionInfo {
  beginSequenceNumber: number;
  lastSequenceNumber: number;
  lastOffset: number;
  lastEnqueuedMs: number;
  isEmpty: boolean;
}

// Events kept in memory per partition when the store holds them all anyway: live consumers
// and short catch-ups never touch SQLite.
const DISK_TAIL_EVENTS = 4096;
const RETENTION_SWEEP_MS = 5_000;
// Appends are written in one transaction at most this often: each commit blocks the event loop
// for a moment, so fewer, larger ones keep consumers' latency low (delivery never waits for them).
const FLUSH_DELAY_MS = 20;

class Partition {
  nextSeq = 0;
  nextOffset = 0;
  lastSeq = -1;
  lastOffset = -1;
  lastMs = 0;
  /** oldest retained event, nextSeq when none */
  beginSeq = 0;
  beginOffset = 0;
  /** newest events, oldest first; `head` is the first live index */
  tail: StoredEvent[] = [];
  head = 0;
  readonly listeners = new Set<() => void>();

  constructor(readonly id: number) {}

  tailFirstSeq(): number {
    return this.head < this.tail.length ? this.tail[this.head].sequenceNumber : this.nextSeq;
  }

  dropTailWhile(predicate: (e: StoredEvent) => boolean, keepFrom = Number.POSITIVE_INFINITY): void {
    while (this.head < this.tail.length && this.tail[this.head].sequenceNumber < keepFrom && predicate(this.tail[this.head])) this.head++;
    if (this.head > 1024 && this.head * 2 > this.tail.length) {
      this.tail = this.tail.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * The Event Hubs-compatible endpoint's partitions (docs/protocol.md §10): sequence
 * numbers from 0 per partition, offsets = the byte position of an event in its partition's
 * stream, retention bounded by age and size. Appends are written to the store in one
 * transaction at most every 20 ms; readers are woken as events arrive, from memory.
 */
export class EventLog {
  private readonly parts: Partition[];
  private pending: StoredEvent[] = [];
  private flushScheduled = false;
  private readonly sweeper: NodeJS.Timeout;
  private readonly store?: EventStore;
  private closed = false;

  constructor(private readonly options: EventLogOptions) {
    this.store = options.store;
    this.parts = Array.from({ length: options.partitions }, (_, i) => new Partition(i));
    if (this.store) {
      for (const [id, c] of this.store.counters()) {
        const p = this.parts[id];
        if (!p) continue;
        Object.assign(p, { nextSeq: c.nextSeq, nextOffset: c.nextOffset, lastSeq: c.lastSeq, lastOffset: c.lastOffset, lastMs: c.lastMs });
      }
      for (const p of this.parts) this.refreshBegin(p);
    }
    this.sweeper = setInterval(() => this.applyRetention(), RETENTION_SWEEP_MS);
    this.sweeper.unref();
  }

  get partitionCount(): number {
    return this.parts.length;
  }

  /** Appends one event; `encode` builds its bytes from the numbers it is given. */
  append(partition: number, enqueuedMs: number, encode: (sequenceNumber: number, offset: number) => Buffer): StoredEvent {
    const p = this.parts[partition];
    const sequenceNumber = p.nextSeq;
    const offset = p.nextOffset;
    const bytes = encode(sequenceNumber, offset);
    const event: StoredEvent = { partition, sequenceNumber, offset, enqueuedMs, bytes };
    const wasEmpty = p.beginSeq >= p.nextSeq;
    p.nextSeq++;
    p.nextOffset += bytes.length;
    p.lastSeq = sequenceNumber;
    p.lastOffset = offset;
    p.lastMs = enqueuedMs;
    if (wasEmpty) {
      p.beginSeq = sequenceNumber;
      p.beginOffset = offset;
    }
    p.tail.push(event);
    if (this.store) {
      this.pending.push(event);
      this.scheduleFlush();
    } else {
      this.enforceSize(p);
    }
    for (const listener of p.listeners) listener();
    return event;
  }

  /** Up to `limit` events from `fromSeq` on (from the oldest retained one if that is gone). */
  read(partition: number, fromSeq: number, limit: number): StoredEvent[] {
    const p = this.parts[partition];
    const from = Math.max(fromSeq, p.beginSeq);
    if (from >= p.nextSeq) return [];
    const tailFirst = p.tailFirstSeq();
    if (from >= tailFirst) {
      const start = p.head + (from - tailFirst);
      return p.tail.slice(start, start + limit);
    }
    if (!this.store) return p.tail.slice(p.head, p.head + limit);
    // Only the store holds events older than the tail; the newest may not be written yet.
    const older = this.store.read(partition, from, limit);
    const next = older.length > 0 ? older[older.length - 1].sequenceNumber + 1 : from;
    if (older.length < limit && next >= tailFirst) return older.concat(this.read(partition, next, limit - older.length));
    return older;
  }

  info(partition: number): PartitionInfo {
    const p = this.parts[partition];
    return {
      beginSequenceNumber: p.beginSeq,
      lastSequenceNumber: p.lastSeq,
      lastOffset: p.lastOffset,
      lastEnqueuedMs: p.lastMs,
      isEmpty: p.beginSeq >= p.nextSeq,
    };
  }

  /** The first sequence number with an offset above `offset` (`inclusive`: at or above). */
  seqForOffset(partition: number, offset: number, inclusive: boolean): number {
    const p = this.parts[partition];
    const target = inclusive ? offset - 1 : offset;
    if (target < p.beginOffset) return p.beginSeq;
    if (target >= p.lastOffset) return p.nextSeq;
    if (p.head < p.tail.length && p.tail[p.head].offset <= target) return this.firstInTail(p, (e) => e.offset > target);
    return this.store?.seqAfterOffset(partition, target) ?? p.tailFirstSeq();
  }

  /** The first sequence number enqueued after `ms`. */
  seqForTime(partition: number, ms: number): number {
    const p = this.parts[partition];
    if (p.head < p.tail.length && p.tail[p.head].enqueuedMs <= ms) return this.firstInTail(p, (e) => e.enqueuedMs > ms);
    return this.store?.seqAfterTime(partition, ms) ?? p.tailFirstSeq();
  }

  /** Binary search over the tail (offsets and enqueue times only grow). */
  private firstInTail(p: Partition, after: (e: StoredEvent) => boolean): number {
    let lo = p.head;
    let hi = p.tail.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (after(p.tail[mid])) hi = mid;
      else lo = mid + 1;
    }
    return lo < p.tail.length ? p.tail[lo].sequenceNumber : p.nextSeq;
  }

  nextSequenceNumber(partition: number): number {
    return this.parts[partition].nextSeq;
  }

  /** Calls `listener` after every append to the partition; returns the unsubscribe function. */
  watch(partition: number, listener: () => void): () => void {
    const set = this.parts[partition].listeners;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Drops every retained event; sequence numbers and offsets carry on (readers never go back). */
  clear(): void {
    this.flush();
    this.store?.clearEvents();
    for (const p of this.parts) {
      p.tail = [];
      p.head = 0;
      p.beginSeq = p.nextSeq;
      p.beginOffset = p.nextOffset;
    }
  }

  flush(): void {
    this.flushScheduled = false;
    if (!this.store || this.pending.length === 0 || this.closed) return;
    const batch = this.pending;
    this.pending = [];
    this.store.write(batch);
    for (const p of this.parts) {
      if (p.tail.length - p.head > DISK_TAIL_EVENTS) {
        const keep = p.tail.length - DISK_TAIL_EVENTS;
        p.tail = p.tail.slice(keep);
        p.head = 0;
      }
      this.enforceSize(p);
    }
  }

  /** Age and size bounds (docs/protocol.md §10.12); the size bound is per partition, an even share. */
  applyRetention(now = Date.now()): void {
    if (this.closed) return;
    this.flush();
    this.store?.checkpoint();
    const cutoff = now - this.options.retentionHours * 3_600_000;
    for (const p of this.parts) {
      if (p.beginSeq >= p.nextSeq) continue;
      const oldestInTail = p.head < p.tail.length ? p.tail[p.head].enqueuedMs : Number.POSITIVE_INFINITY;
      if (this.store) {
        if (this.store.dropOlderThan(p.id, cutoff) > 0) this.refreshBegin(p);
      }
      if (oldestInTail < cutoff) {
        p.dropTailWhile((e) => e.enqueuedMs < cutoff);
        if (!this.store) this.beginFromTail(p);
      }
      this.enforceSize(p);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    this.flush();
    this.closed = true;
    this.store?.close();
  }

  private enforceSize(p: Partition): void {
    const limit = Math.max(1, Math.floor((this.options.retentionMb * 1024 * 1024) / this.parts.length));
    if (p.nextOffset - p.beginOffset <= limit) return;
    const keepFrom = p.nextOffset - limit;
    if (this.store) {
      this.store.dropBeforeOffset(p.id, keepFrom);
      p.dropTailWhile((e) => e.offset < keepFrom);
      this.refreshBegin(p);
    } else {
      p.dropTailWhile((e) => e.offset < keepFrom);
      this.beginFromTail(p);
    }
  }

  private beginFromTail(p: Partition): void {
    if (p.head < p.tail.length) {
      p.beginSeq = p.tail[p.head].sequenceNumber;
      p.beginOffset = p.tail[p.head].offset;
    } else {
      p.beginSeq = p.nextSeq;
      p.beginOffset = p.nextOffset;
    }
  }

  private refreshBegin(p: Partition): void {
    // Unflushed events are newer than anything in the store.
    const first = this.store!.first(p.id) ?? this.pending.find((e) => e.partition === p.id);
    if (first) {
      p.beginSeq = first.sequenceNumber;
      p.beginOffset = first.offset;
    } else {
      p.beginSeq = p.nextSeq;
      p.beginOffset = p.nextOffset;
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setTimeout(() => this.flush(), FLUSH_DELAY_MS).unref();
  }
}
