import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { WAL_CHECKPOINT_INTERVAL_MS } from '../limits.js';

/**
 * Copies the WAL into the database file from a worker thread of its own, on its own connection,
 * so the hub's thread never does: a checkpoint reads the WAL, writes the pages and waits for two
 * fsyncs, and SQLite's automatic one runs inside the commit that crosses the threshold. In bulk
 * registration those commits were a third of the emulator thread's time, most of it waiting
 * on the disk (docs/scaling.md §3.1).
 *
 * PASSIVE checkpoints (never waiting for a lock, never blocking the writer) every
 * WAL_CHECKPOINT_INTERVAL_MS; the writer restarts the WAL from its start once one has caught
 * up. Durability is SQLite's own: WAL frames are the database whether or not they were copied
 * yet (a kill loses nothing either way). The hub's connection keeps an automatic checkpoint at a
 * higher threshold as the backstop should this thread fall behind or fail.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const control = new Int32Array(workerData.control);
let db;
try {
  const Database = require(workerData.driver);
  if (Atomics.load(control, 0) === 0) {
    db = new Database(workerData.file, { fileMustExist: true });
    db.pragma('busy_timeout = 0');
  }
  while (Atomics.load(control, 0) === 0) {
    Atomics.wait(control, 0, 0, workerData.intervalMs);
    if (Atomics.load(control, 0) !== 0) break;
    try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or locked: the next pass */ }
  }
} finally {
  try { db?.close(); } finally { Atomics.store(control, 1, 1); Atomics.notify(control, 1); }
}
`;

export interface Checkpointer {
  /** Stops the thread and closes its connection before returning (the hub's connection closes after it). */
  stop(): void;
}

export function startCheckpointer(file: string, onFailure: (error: Error) => void): Checkpointer {
  // [0]: 1 = stop; [1]: 1 = the thread's connection is closed (or was never opened)
  const control = new Int32Array(new SharedArrayBuffer(8));
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, control: control.buffer, intervalMs: WAL_CHECKPOINT_INTERVAL_MS } });
  let failed = false;
  worker.on('error', (error) => {
    failed = true;
    onFailure(error);
  });
  worker.unref();
  return {
    stop() {
      Atomics.store(control, 0, 1);
      Atomics.notify(control, 0);
      // At most one checkpoint pass to finish (a thread still starting up sees the flag first).
      if (!failed) Atomics.wait(control, 1, 0, 10_000);
    },
  };
}
