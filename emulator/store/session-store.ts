import type { Db } from './database.js';

export interface StoredSubscription {
  topic: string;
  qos: number;
}

/**
 * MQTT subscriptions of CleanSession=0 clients, kept across restarts (docs/protocol.md §0.5).
 *
 * What the table holds is mirrored in memory, so a device resuming its session and subscribing to
 * what it already had (every SDK does on every connect) writes nothing, and a clean session's
 * "forget" of a client that has none costs a lookup. Changes are written in one transaction per
 * event-loop turn for every client that changed in it (thousands of devices connecting at once
 * share a few transactions instead of one each), and by `flush()` when the hub stops
 * (docs/scaling.md §3.3).
 */
export class SessionStore {
  /** client id → topic → granted QoS: what the table holds once the pending turn is written */
  private readonly sessions = new Map<string, Map<string, number>>();
  /** clients whose rows differ from `sessions` until the next flush */
  private readonly changed = new Set<string>();
  private scheduled: NodeJS.Immediate | undefined;
  // better-sqlite3 builds a wrapper per transaction() call; built once, it stays off the connect path.
  private readonly writeChanged;
  private readonly clearAll;

  constructor(
    private readonly db: Db,
    /** a write that failed in the background (the changes are kept and tried again with the next ones) */
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    const insert = db.prepare('INSERT INTO mqtt_subscriptions (client_id, topic, qos) VALUES (?, ?, ?)');
    const removeClient = db.prepare('DELETE FROM mqtt_subscriptions WHERE client_id = ?');
    this.clearAll = db.prepare('DELETE FROM mqtt_subscriptions');
    this.writeChanged = db.transaction((clientIds: readonly string[]) => {
      for (const clientId of clientIds) {
        removeClient.run(clientId);
        const topics = this.sessions.get(clientId);
        if (topics) for (const [topic, qos] of topics) insert.run(clientId, topic, qos);
      }
    });
    const rows = db.prepare('SELECT client_id, topic, qos FROM mqtt_subscriptions').all() as { client_id: string; topic: string; qos: number }[];
    for (const row of rows) this.topicsOf(row.client_id).set(row.topic, row.qos);
  }

  all(): Map<string, StoredSubscription[]> {
    const byClient = new Map<string, StoredSubscription[]>();
    for (const [clientId, topics] of this.sessions) {
      byClient.set(
        clientId,
        [...topics].map(([topic, qos]) => ({ topic, qos })),
      );
    }
    return byClient;
  }

  add(clientId: string, subscriptions: readonly StoredSubscription[]): void {
    const topics = this.topicsOf(clientId);
    let changed = false;
    for (const { topic, qos } of subscriptions) {
      if (topics.get(topic) === qos) continue;
      topics.set(topic, qos);
      changed = true;
    }
    if (changed) this.markChanged(clientId);
    else if (topics.size === 0) this.sessions.delete(clientId);
  }

  removeTopics(clientId: string, topics: readonly string[]): void {
    const held = this.sessions.get(clientId);
    if (!held) return;
    let changed = false;
    for (const topic of topics) changed = held.delete(topic) || changed;
    if (held.size === 0) this.sessions.delete(clientId);
    if (changed) this.markChanged(clientId);
  }

  forget(clientId: string): void {
    if (this.sessions.delete(clientId)) this.markChanged(clientId);
  }

  clear(): void {
    this.sessions.clear();
    this.changed.clear();
    if (this.db.open) this.clearAll.run();
  }

  /** Writes what changed since the last write (the hub calls it before it closes the database). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.changed.size === 0 || !this.db.open) return;
    const clientIds = [...this.changed];
    this.changed.clear();
    this.writeChanged(clientIds);
  }

  private topicsOf(clientId: string): Map<string, number> {
    let topics = this.sessions.get(clientId);
    if (!topics) {
      topics = new Map();
      this.sessions.set(clientId, topics);
    }
    return topics;
  }

  private markChanged(clientId: string): void {
    this.changed.add(clientId);
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      const clientIds = [...this.changed];
      try {
        this.flush();
      } catch (error) {
        for (const clientId of clientIds) this.changed.add(clientId);
        this.onError(error);
      }
    });
  }
}
