import { JOB_RECORDS_READ_CHUNK, type Db, type HubStorage } from '../emulator/index.js';
import { deviceJobTail, deviceJobText } from './device-job.js';

/**
 * Device-job rows per INSERT or UPDATE statement: one statement per device was most of what a
 * 100,000-device job spent outside the twin writes (docs/scaling.md §5). 100 rows bind 400
 * parameters, far below SQLite's limit.
 */
const ROWS_PER_STATEMENT = 100;

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
  private readonly insertDeviceJobsStatement;
  private readonly updateDeviceJobStatement;
  private readonly updateDeviceJobsStatement;
  private readonly insertTailRunStatement;
  private readonly updateTailRunStatement;
  private readonly lastDeviceJobRowidStatement;
  private readonly deviceJobsOfJobStatement;
  private readonly allDeviceJobsStatement;
  private readonly deviceJobsOfDeviceStatement;

  private readonly db: Db;

  constructor(private readonly storage: HubStorage) {
    const db = storage.database;
    this.db = db;
    this.insertJobStatement = db.prepare('INSERT INTO jobs (job_id, status, created_ms, job) VALUES (?, ?, ?, ?)');
    this.updateJobStatement = db.prepare('UPDATE jobs SET status = ?, job = ? WHERE job_id = ?');
    // Rowids given, not assigned: the caller learns each row's without one statement per row.
    const insert = 'INSERT INTO device_jobs (rowid, job_id, device_id, status, record) VALUES ';
    this.insertDeviceJobStatement = db.prepare(`${insert}(?, ?, ?, ?, ?)`);
    this.insertDeviceJobsStatement = db.prepare(`${insert}${Array(ROWS_PER_STATEMENT).fill('(?, ?, ?, ?, ?)').join(', ')}`);
    // A run of records that share their text but for the device id (deviceJobTail): one
    // statement for the run, each text built by SQLite from its row's id. The per-row binds and
    // texts of the statements above were ~40 % of a twin job's device-job writes (bare SQLite).
    this.insertTailRunStatement = db.prepare(
      `INSERT INTO device_jobs (rowid, job_id, device_id, status, record) SELECT ? + key, ?, value, ?, '{"deviceId":"' || value || '",' || ? FROM json_each(?)`,
    );
    this.updateTailRunStatement = db.prepare(
      `UPDATE device_jobs SET status = ?, record = '{"deviceId":"' || device_id || '",' || ? WHERE rowid BETWEEN ? AND ?`,
    );
    this.lastDeviceJobRowidStatement = db.prepare('SELECT coalesce(max(rowid), 0) FROM device_jobs').pluck();
    // By rowid: a job rewrites each of its records as it progresses, and the rowid skips the key index.
    this.updateDeviceJobStatement = db.prepare('UPDATE device_jobs SET status = ?, record = ? WHERE rowid = ?');
    this.updateDeviceJobsStatement = db.prepare(
      `UPDATE device_jobs SET status = changed.column2, record = changed.column3 FROM (VALUES ${Array(ROWS_PER_STATEMENT).fill('(?, ?, ?)').join(', ')}) AS changed WHERE device_jobs.rowid = changed.column1`,
    );
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

  /**
   * Returns the new rows' rowids, in order: the next ones after the table's last, as SQLite
   * would assign them. Call inside `atomically`, so no other insert comes between.
   */
  insertDeviceJobs(jobId: string, rows: readonly NewDeviceJobRow[]): number[] {
    const first = (this.lastDeviceJobRowidStatement.get() as number) + 1;
    const rowids = rows.map((_, i) => first + i);
    const others: number[] = [];
    for (let i = 0; i < rows.length; ) {
      const status = rows[i]!.status;
      const tail = deviceJobTail(rows[i]!.record);
      let end = i + 1;
      if (tail !== undefined) while (end < rows.length && rows[end]!.status === status && deviceJobTail(rows[end]!.record) === tail) end++;
      if (tail === undefined || end - i === 1) others.push(i);
      else this.insertTailRunStatement.run(first + i, jobId, status, tail, JSON.stringify(rows.slice(i, end).map((row) => row.deviceId)));
      i = end;
    }
    const full = others.length - (others.length % ROWS_PER_STATEMENT);
    const values: unknown[] = [];
    for (let i = 0; i < full; i += ROWS_PER_STATEMENT) {
      values.length = 0;
      for (let k = i; k < i + ROWS_PER_STATEMENT; k++) {
        const j = others[k]!;
        const row = rows[j]!;
        values.push(rowids[j], jobId, row.deviceId, row.status, deviceJobText(row.record));
      }
      this.insertDeviceJobsStatement.run(values);
    }
    for (let k = full; k < others.length; k++) {
      const j = others[k]!;
      const row = rows[j]!;
      this.insertDeviceJobStatement.run(rowids[j], jobId, row.deviceId, row.status, deviceJobText(row.record));
    }
    return rowids;
  }

  /** Rewrites device-job rows: runs of consecutive rowids sharing a text but for the id in one statement each, the rest 100 a statement. */
  updateDeviceJobs(rows: readonly DeviceJobRow[]): void {
    const others: DeviceJobRow[] = [];
    for (let i = 0; i < rows.length; ) {
      const { rowid, status } = rows[i]!;
      const tail = deviceJobTail(rows[i]!.record);
      let end = i + 1;
      if (tail !== undefined) {
        while (end < rows.length && rows[end]!.rowid === rowid + (end - i) && rows[end]!.status === status && deviceJobTail(rows[end]!.record) === tail) end++;
      }
      // Every rowid of [rowid, rowid + n) is one of the run's (consecutive), and each row's device_id is its record's.
      if (tail === undefined || end - i === 1) others.push(rows[i]!);
      else this.updateTailRunStatement.run(status, tail, rowid, rowid + (end - i) - 1);
      i = end;
    }
    this.updateEach(others);
  }

  private updateEach(rows: readonly DeviceJobRow[]): void {
    const full = rows.length - (rows.length % ROWS_PER_STATEMENT);
    const values: unknown[] = [];
    for (let i = 0; i < full; i += ROWS_PER_STATEMENT) {
      values.length = 0;
      for (let j = i; j < i + ROWS_PER_STATEMENT; j++) {
        const row = rows[j]!;
        values.push(row.rowid, row.status, deviceJobText(row.record));
      }
      this.updateDeviceJobsStatement.run(values);
    }
    for (let j = full; j < rows.length; j++) {
      const row = rows[j]!;
      this.updateDeviceJobStatement.run(row.status, deviceJobText(row.record), row.rowid);
    }
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
