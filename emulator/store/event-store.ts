import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

/** One retained event of the Event Hubs-compatible endpoint, as stored. */
export interface StoredEvent {
  readonly partition: number;
  readonly sequenceNumber: number;
  /** byte position of the event in its partition's stream (docs/protocol.md §10.9) */
  readonly offset: number;
  readonly enqueuedMs: number;
  /** the event as AMQP sections (message annotations, properties, application properties, body) */
  readonly bytes: Buffer;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (
    partition   INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    offset      INTEGER NOT NULL,
    enqueued_ms INTEGER NOT NULL,
    bytes       BLOB NOT NULL,
    PRIMARY KEY (partition, seq)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS events_offset ON events(partition, offset);
  CREATE INDEX IF NOT EXISTS events_time ON events(partition, enqueued_ms);
  CREATE TABLE IF NOT EXISTS counters (
    partition   INTEGER PRIMARY KEY,
    next_seq    INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    last_offset INTEGER NOT NULL,
    last_ms     INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

type Row = { partition: number; seq: number; offset: number; enqueued_ms: number; bytes: Buffer };
const toEvent = (row: Row): StoredEvent => ({
  partition: row.partition,
  sequenceNumber: row.seq,
  offset: row.offset,
  enqueuedMs: row.enqueued_ms,
  bytes: row.bytes,
});

/**
 * The endpoint's events on disk: a SQLite file of its own (`events.sqlite` in the data directory),
 * apart from the hub's state so a busy event stream never holds up registry or twin writes.
 * Written in one transaction per batch; counters survive so sequence numbers and offsets never
 * go back, even when retention has removed every event.
 */
export class EventStore {
  private readonly db: Database.Database;
  private readonly insert;
  private readonly saveCounter;
  private readonly writeBatch;
  private readonly fromSeq;
  private readonly firstAfterOffset;
  private readonly firstAfterTime;
  private readonly deleteBefore;
  private readonly deleteBeforeOffset;
  private readonly firstEvent;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(path.join(dataDir, 'events.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    // Checkpoints (the only fsyncs under WAL + NORMAL) run from the retention sweep instead of
    // in whichever commit crosses the default 1,000 pages.
    this.db.pragma('wal_autocheckpoint = 16384');
    this.db.exec(SCHEMA);
    this.insert = this.db.prepare('INSERT OR REPLACE INTO events (partition, seq, offset, enqueued_ms, bytes) VALUES (?, ?, ?, ?, ?)');
    this.saveCounter = this.db.prepare(
      'INSERT INTO counters (partition, next_seq, next_offset, last_seq, last_offset, last_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(partition) DO UPDATE SET next_seq = excluded.next_seq, next_offset = excluded.next_offset, last_seq = excluded.last_seq, last_offset = excluded.last_offset, last_ms = excluded.last_ms',
    );
    this.writeBatch = this.db.transaction((events: readonly StoredEvent[]) => {
      const last = new Map<number, StoredEvent>();
      for (const e of events) {
        this.insert.run(e.partition, e.sequenceNumber, e.offset, e.enqueuedMs, e.bytes);
        last.set(e.partition, e);
      }
      for (const e of last.values())
        this.saveCounter.run(e.partition, e.sequenceNumber + 1, e.offset + e.bytes.length, e.sequenceNumber, e.offset, e.enqueuedMs);
    });
    this.fromSeq = this.db.prepare('SELECT * FROM events WHERE partition = ? AND seq >= ? ORDER BY seq LIMIT ?');
    this.firstAfterOffset = this.db.prepare('SELECT seq FROM events WHERE partition = ? AND offset > ? ORDER BY offset LIMIT 1');
    this.firstAfterTime = this.db.prepare('SELECT seq FROM events WHERE partition = ? AND enqueued_ms > ? ORDER BY enqueued_ms, seq LIMIT 1');
    this.deleteBefore = this.db.prepare('DELETE FROM events WHERE partition = ? AND enqueued_ms < ?');
    this.deleteBeforeOffset = this.db.prepare('DELETE FROM events WHERE partition = ? AND offset < ?');
    this.firstEvent = this.db.prepare('SELECT * FROM events WHERE partition = ? ORDER BY seq LIMIT 1');
  }

  write(events: readonly StoredEvent[]): void {
    if (events.length > 0) this.writeBatch(events);
  }

  read(partition: number, fromSeq: number, limit: number): StoredEvent[] {
    return (this.fromSeq.all(partition, fromSeq, limit) as Row[]).map(toEvent);
  }

  /** The first sequence number whose offset is above `offset`, if any is retained. */
  seqAfterOffset(partition: number, offset: number): number | undefined {
    return (this.firstAfterOffset.get(partition, offset) as { seq: number } | undefined)?.seq;
  }

  seqAfterTime(partition: number, ms: number): number | undefined {
    return (this.firstAfterTime.get(partition, ms) as { seq: number } | undefined)?.seq;
  }

  /** What a restarted endpoint continues from. */
  counters(): Map<number, { nextSeq: number; nextOffset: number; lastSeq: number; lastOffset: number; lastMs: number }> {
    const rows = this.db.prepare('SELECT * FROM counters').all() as {
      partition: number;
      next_seq: number;
      next_offset: number;
      last_seq: number;
      last_offset: number;
      last_ms: number;
    }[];
    return new Map(
      rows.map((r) => [r.partition, { nextSeq: r.next_seq, nextOffset: r.next_offset, lastSeq: r.last_seq, lastOffset: r.last_offset, lastMs: r.last_ms }]),
    );
  }

  /** The oldest retained event of a partition. */
  first(partition: number): StoredEvent | undefined {
    const row = this.firstEvent.get(partition) as Row | undefined;
    return row && toEvent(row);
  }

  /** Removes events enqueued before `ms`; returns how many went. */
  dropOlderThan(partition: number, ms: number): number {
    return this.deleteBefore.run(partition, ms).changes;
  }

  /** Removes events that start before byte position `offset` (the size bound). */
  dropBeforeOffset(partition: number, offset: number): number {
    return this.deleteBeforeOffset.run(partition, offset).changes;
  }

  clearEvents(): void {
    this.db.prepare('DELETE FROM events').run();
  }

  meta(key: string, make: () => string): string {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    if (row) return row.value;
    const value = make();
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(key, value);
    return value;
  }

  /** Moves the WAL into the database without waiting for readers. */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  close(): void {
    this.db.close();
  }
}
