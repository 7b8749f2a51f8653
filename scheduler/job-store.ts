import { JOB_RECORDS_READ_CHUNK, type Db, type HubStorage } from '../emulator/index.js';

/** A device-job row: the public record plus its status column, addressed by rowid once inserted. */
export interface NewDeviceJobRow {
  deviceId: string;
  status: string;
  /** the record `SELECT * FROM devices.jobs` returns */
  record: object;
}

export interface DeviceJobRow extends NewDeviceJobRow {
  rowid: number;
}

export interface JobRow {
  jobId: string;
  status: string;
  createdMs: number;
  job: object;
}

/**
 * Jobs v2 and their device-job records in SQLite, on the connection the hub lends (HubStorage);
 * the tables themselves are in the hub's one schema (emulator/store/migrations.ts). Rows keep
 * insertion order (rowid), which is the order the job list and devices.jobs queries page through. Batches are written inside the
 * caller's `atomically`, so a job row and the device records it counts never disagree on disk.
 */
export class JobStore {
  private readonly insertJobStatement;
  private readonly updateJobStatement;
  private readonly insertDeviceJobStatement;
  private readonly updateDeviceJobStatement;
  private readonly deviceJobsOfJobStatement;
  private readonly allDeviceJobsStatement;
  private readonly deviceJobsOfDeviceStatement;

  private readonly db: Db;

  constructor(private readonly storage: HubStorage) {
    const db = storage.database;
    this.db = db;
    this.insertJobStatement = db.prepare('INSERT INTO jobs (job_id, status, created_ms, job) VALUES (?, ?, ?, ?)');
    this.updateJobStatement = db.prepare('UPDATE jobs SET status = ?, job = ? WHERE job_id = ?');
    this.insertDeviceJobStatement = db.prepare('INSERT INTO device_jobs (job_id, device_id, status, record) VALUES (?, ?, ?, ?)');
    // By rowid: a job rewrites each of its records as it progresses, and the rowid skips the key index.
    this.updateDeviceJobStatement = db.prepare('UPDATE device_jobs SET status = ?, record = ? WHERE rowid = ?');
    this.deviceJobsOfJobStatement = db.prepare('SELECT rowid, device_id, status, record FROM device_jobs WHERE job_id = ? ORDER BY rowid');
    this.allDeviceJobsStatement = db.prepare('SELECT rowid, record FROM device_jobs WHERE rowid > ? ORDER BY rowid LIMIT ?');
    this.deviceJobsOfDeviceStatement = db.prepare('SELECT rowid, record FROM device_jobs WHERE device_id = ? ORDER BY rowid');
  }

  /** Runs `work` in one transaction (nested calls, e.g. a twin service commit, become savepoints). */
  atomically<T>(work: () => T): T {
    return this.storage.atomically(work);
  }

  loadJobs(): JobRow[] {
    const rows = this.db.prepare('SELECT job_id, status, created_ms, job FROM jobs ORDER BY rowid').all() as {
      job_id: string;
      status: string;
      created_ms: number;
      job: string;
    }[];
    return rows.map((r) => ({ jobId: r.job_id, status: r.status, createdMs: r.created_ms, job: JSON.parse(r.job) as object }));
  }

  insertJob(jobId: string, status: string, createdMs: number, job: object): void {
    this.insertJobStatement.run(jobId, status, createdMs, JSON.stringify(job));
  }

  updateJob(jobId: string, status: string, job: object): void {
    this.updateJobStatement.run(status, JSON.stringify(job), jobId);
  }

  /** Returns the new rows' rowids, in order. */
  insertDeviceJobs(jobId: string, rows: readonly NewDeviceJobRow[]): number[] {
    return rows.map((row) => Number(this.insertDeviceJobStatement.run(jobId, row.deviceId, row.status, JSON.stringify(row.record)).lastInsertRowid));
  }

  updateDeviceJobs(rows: Iterable<DeviceJobRow>): void {
    for (const row of rows) this.updateDeviceJobStatement.run(row.status, JSON.stringify(row.record), row.rowid);
  }

  /** Forgets every job and device-job record (a hub reset). */
  clear(): void {
    this.atomically(() => {
      this.db.prepare('DELETE FROM device_jobs').run();
      this.db.prepare('DELETE FROM jobs').run();
    });
  }

  /** One job's device records, for resuming it after a restart. */
  deviceJobsOf(jobId: string): DeviceJobRow[] {
    const rows = this.deviceJobsOfJobStatement.all(jobId) as { rowid: number; device_id: string; status: string; record: string }[];
    return rows.map((r) => ({ rowid: r.rowid, deviceId: r.device_id, status: r.status, record: JSON.parse(r.record) as object }));
  }

  /**
   * Device-job records in a stable order: all of them by insertion (from after `afterRowid`), or
   * those of `deviceIds` (in that order) through the device index. Lazy, so a page that fills
   * early stops reading; read in chunks rather than through an open SQLite iterator, which would
   * block the connection for every other statement until the consumer finished.
   */
  *deviceJobRecords(deviceIds?: readonly string[], afterRowid = 0): Generator<{ rowid: number; record: object }> {
    type Row = { rowid: number; record: string };
    if (deviceIds === undefined) {
      let after = afterRowid;
      for (;;) {
        const rows = this.allDeviceJobsStatement.all(after, JOB_RECORDS_READ_CHUNK) as Row[];
        for (const row of rows) yield { rowid: row.rowid, record: JSON.parse(row.record) as object };
        if (rows.length < JOB_RECORDS_READ_CHUNK) return;
        after = rows[rows.length - 1]!.rowid;
      }
    }
    for (const deviceId of deviceIds) {
      for (const row of this.deviceJobsOfDeviceStatement.all(deviceId) as Row[]) yield { rowid: row.rowid, record: JSON.parse(row.record) as object };
    }
  }
}
