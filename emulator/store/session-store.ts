import type { Db } from './database.js';

export interface StoredSubscription {
  topic: string;
  qos: number;
}

/** MQTT subscriptions of CleanSession=0 clients, kept across restarts (docs/protocol.md §0.5). */
export class SessionStore {
  private readonly insert;
  private readonly remove;
  private readonly removeClient;
  // better-sqlite3 builds a wrapper per transaction() call; built once, it stays off the connect path.
  private readonly insertAll;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      'INSERT INTO mqtt_subscriptions (client_id, topic, qos) VALUES (?, ?, ?) ON CONFLICT(client_id, topic) DO UPDATE SET qos = excluded.qos',
    );
    this.remove = db.prepare('DELETE FROM mqtt_subscriptions WHERE client_id = ? AND topic = ?');
    this.removeClient = db.prepare('DELETE FROM mqtt_subscriptions WHERE client_id = ?');
    this.insertAll = db.transaction((clientId: string, subscriptions: readonly StoredSubscription[]) => {
      for (const s of subscriptions) this.insert.run(clientId, s.topic, s.qos);
    });
  }

  all(): Map<string, StoredSubscription[]> {
    const byClient = new Map<string, StoredSubscription[]>();
    const rows = this.db.prepare('SELECT client_id, topic, qos FROM mqtt_subscriptions').all() as { client_id: string; topic: string; qos: number }[];
    for (const row of rows) {
      const list = byClient.get(row.client_id) ?? [];
      list.push({ topic: row.topic, qos: row.qos });
      byClient.set(row.client_id, list);
    }
    return byClient;
  }

  add(clientId: string, subscriptions: readonly StoredSubscription[]): void {
    this.insertAll(clientId, subscriptions);
  }

  removeTopics(clientId: string, topics: readonly string[]): void {
    for (const topic of topics) this.remove.run(clientId, topic);
  }

  forget(clientId: string): void {
    this.removeClient.run(clientId);
  }

  clear(): void {
    this.db.prepare('DELETE FROM mqtt_subscriptions').run();
  }
}
