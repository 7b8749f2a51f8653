import type { ConfigurationRecord } from '../configurations/configuration-record.js';
import type { Db } from './database.js';

/** Configurations, in memory in creation order and written through to SQLite. */
export class ConfigurationStore {
  private readonly records = new Map<string, ConfigurationRecord>();
  private readonly upsertStatement;
  private readonly deleteStatement;
  private readonly clearStatement;

  constructor(private readonly db: Db) {
    this.upsertStatement = db.prepare(
      'INSERT INTO configurations (configuration_id, record) VALUES (?, ?) ON CONFLICT(configuration_id) DO UPDATE SET record = excluded.record',
    );
    this.deleteStatement = db.prepare('DELETE FROM configurations WHERE configuration_id = ?');
    this.clearStatement = db.prepare('DELETE FROM configurations');
    for (const row of db.prepare('SELECT record FROM configurations ORDER BY rowid').iterate() as Iterable<{ record: string }>) {
      const record = JSON.parse(row.record) as ConfigurationRecord;
      this.records.set(record.id, record);
    }
  }

  get(id: string): ConfigurationRecord | undefined {
    return this.records.get(id);
  }

  get size(): number {
    return this.records.size;
  }

  all(): ConfigurationRecord[] {
    return [...this.records.values()];
  }

  save(record: ConfigurationRecord): void {
    if (!this.db.open) return;
    this.upsertStatement.run(record.id, JSON.stringify(record));
    this.records.set(record.id, record);
  }

  delete(id: string): void {
    this.deleteStatement.run(id);
    this.records.delete(id);
  }

  clear(): void {
    this.clearStatement.run();
    this.records.clear();
  }
}
