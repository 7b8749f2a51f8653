import { describe, expect, it } from 'vitest';
import { openDatabase } from '../emulator/store/database.js';
import { hubStorage } from '../emulator/store/hub-storage.js';
import { deviceJobText, markCanceled, markCompleted, markFailed, markRunning, newDeviceJob } from '../scheduler/device-job.js';
import type { DeviceJob } from '../scheduler/job-model.js';
import { JobStore } from '../scheduler/job-store.js';

// Device-job records are written 100 rows per statement and serialised from a template when
// they differ only in their deviceId, and a run of such records is one statement that builds
// each text from its row's id (docs/scaling.md §5): the rows and texts must be exactly what one
// statement and one JSON.stringify per record wrote.

const T0 = Date.parse('2026-12-02T01:00:00.000Z');
const records = (jobId: string, n: number): DeviceJob[] =>
  Array.from({ length: n }, (_, i) => newDeviceJob(jobId, 'scheduleUpdateTwin', `dev-${i}`, T0, 3600, T0));

describe('deviceJobText', () => {
  it('is JSON.stringify of the record for every status, outcome and error, in any order of calls', () => {
    const all = records('j', 12);
    const texts = (): void => {
      for (const record of all) expect(deviceJobText(record)).toBe(JSON.stringify(record));
    };
    texts();
    for (const r of all.slice(0, 6)) markRunning(r, T0 + 5);
    texts();
    markCompleted(all[0]!, null, T0 + 7);
    markCompleted(all[1]!, null, T0 + 7);
    markCompleted(all[2]!, { status: 200, payload: { ok: true } }, T0 + 7);
    markFailed(all[3]!, { code: 'DeviceNotOnline', description: 'Timed out waiting for device to connect.' }, T0 + 7);
    markCompleted(all[3]!, null, T0 + 8); // completed after failing: error deleted, outcome kept in place
    markCanceled(all[4]!, T0 + 9);
    all[5]!.deviceId = 'quote"and\\back\u2028slash';
    texts();
    // A record read back from SQLite (keys in its stored order) and one with another key order.
    const parsed = JSON.parse(JSON.stringify(all[0])) as DeviceJob;
    const reordered = { jobId: 'j', deviceId: 'dev-x', status: 'pending' };
    const extra = { ...all[1]!, deviceId: 'dev-y', note: 'x' };
    const nested = { ...all[1]!, deviceId: 'dev-z', outcome: { deviceMethodResponse: null, other: 1 } };
    for (const record of [parsed, reordered, all[0]!, extra, all[1]!, nested, all[1]!]) expect(deviceJobText(record)).toBe(JSON.stringify(record));
  });
});

describe('JobStore batched device-job writes', () => {
  it('inserts and updates 0, 1, 100 and 250 rows as one statement per row would, rowids in order', () => {
    const db = openDatabase({ dataDir: '', inMemory: true });
    const store = new JobStore(hubStorage(db));
    let expectedNext = 1;
    for (const [n, jobId] of [
      [0, 'none'],
      [1, 'one'],
      [100, 'hundred'],
      [250, 'many'],
    ] as const) {
      store.insertJob(jobId, 'running', T0, { jobId });
      const all = records(jobId, n);
      const rowids = store.atomically(() =>
        store.insertDeviceJobs(
          jobId,
          all.map((record) => ({ deviceId: record.deviceId, status: record.status, record })),
        ),
      );
      expect(rowids).toEqual(Array.from({ length: n }, (_, i) => expectedNext + i));
      expectedNext += n;
      all.forEach((record, i) => {
        if (i % 3 === 0) markFailed(record, { code: 'JobTimeout', description: 'late' }, T0 + 1);
        else markCompleted(record, null, T0 + 1);
      });
      // Every other record changed, so the batches are not the insert's order of contiguous rows.
      const changed = all.map((record, i) => ({ rowid: rowids[i]!, deviceId: record.deviceId, status: record.status, record })).filter((_, i) => i % 2 === 0);
      store.atomically(() => store.updateDeviceJobs(changed));
      const stored = store.deviceJobsOf(jobId);
      expect(stored.map((row) => row.rowid)).toEqual(rowids);
      stored.forEach((row, i) => {
        const expected = i % 2 === 0 ? all[i]! : newDeviceJob(jobId, 'scheduleUpdateTwin', `dev-${i}`, T0, 3600, T0);
        expect(row.deviceId).toBe(`dev-${i}`);
        expect(row.status).toBe(expected.status);
        expect(row.record).toEqual(expected);
      });
    }
    db.close();
  });

  it('writes runs of records that differ only in their id as one statement per record would, byte for byte', () => {
    const db = openDatabase({ dataDir: '', inMemory: true });
    const store = new JobStore(hubStorage(db));
    const rows = () => db.prepare('SELECT rowid, job_id, device_id, status, record FROM device_jobs ORDER BY rowid').raw().all();
    const expected = (jobId: string, all: readonly DeviceJob[], rowids: readonly number[]) =>
      all.map((record, i) => [rowids[i], jobId, record.deviceId, record.status, JSON.stringify(record)]);
    store.insertJob('j', 'running', T0, { jobId: 'j' });
    const all = records('j', 40);
    // Ids JSON escapes break a run (their text is stringified), as does a record of another shape.
    all[7]!.deviceId = 'quote"d';
    all[8]!.deviceId = 'back\\slash';
    all[20]!.deviceId = "dev-!#$%'()*+,-.:;=?@_";
    const rowids = store.atomically(() =>
      store.insertDeviceJobs(
        'j',
        all.map((record) => ({ deviceId: record.deviceId, status: record.status, record })),
      ),
    );
    expect(rows()).toEqual(expected('j', all, rowids));
    all.forEach((record, i) => {
      if (i === 12 || i === 30) markFailed(record, { code: 'JobTimeout', description: 'late' }, T0 + 1);
      else markCompleted(record, null, i < 25 ? T0 + 1 : T0 + 2);
    });
    // Consecutive rowids in runs, a gap (29 is not written), and the same tail again after it.
    const changed = all.map((record, i) => ({ rowid: rowids[i]!, deviceId: record.deviceId, status: record.status, record })).filter((_, i) => i !== 29);
    store.atomically(() => store.updateDeviceJobs(changed));
    const pending = newDeviceJob('j', 'scheduleUpdateTwin', 'dev-29', T0, 3600, T0);
    expect(rows()).toEqual(
      expected(
        'j',
        all.map((record, i) => (i === 29 ? pending : record)),
        rowids,
      ),
    );
    db.close();
  });
});
