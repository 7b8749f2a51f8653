import type { Db } from './database.js';

/**
 * The hub's SQLite connection as another room (the scheduler) uses it for its own tables: one
 * database, so a job's records and the twins it changed commit in the same transaction. The
 * schema of every table stays in migrations.ts; device records stay the services' alone.
 */
export interface HubStorage {
  readonly database: Db;
  /** Runs `work` in one transaction; nested calls (a service's own commit) become savepoints of it. */
  atomically<T>(work: () => T): T;
}

export function hubStorage(db: Db): HubStorage {
  return { database: db, atomically: (work) => db.transaction(work)() };
}
