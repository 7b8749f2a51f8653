// Append-only: each entry moves the schema one version forward (tracked in PRAGMA user_version).
export const migrations: readonly string[] = [
  `
  CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    record    TEXT NOT NULL
  );
  CREATE TABLE mqtt_subscriptions (
    client_id TEXT NOT NULL,
    topic     TEXT NOT NULL,
    qos       INTEGER NOT NULL,
    PRIMARY KEY (client_id, topic)
  );
  CREATE TABLE jobs (
    job_id     TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    job        TEXT NOT NULL
  );
  CREATE INDEX jobs_status ON jobs(status);
  CREATE TABLE device_jobs (
    job_id    TEXT NOT NULL REFERENCES jobs(job_id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    status    TEXT NOT NULL,
    record    TEXT NOT NULL,
    PRIMARY KEY (job_id, device_id)
  );
  -- devices.jobs queries filtered on deviceId read through this instead of every record.
  CREATE INDEX device_jobs_device ON device_jobs(device_id);
  `,
  `
  -- Cloud-to-device queues (docs/protocol.md §11): one row per message not yet settled, in send order.
  CREATE TABLE c2d_messages (
    seq            INTEGER PRIMARY KEY,
    device_id      TEXT NOT NULL,
    enqueued_ms    INTEGER NOT NULL,
    expiry_ms      INTEGER NOT NULL,
    delivery_count INTEGER NOT NULL,
    message        TEXT NOT NULL,
    body           BLOB NOT NULL
  );
  CREATE INDEX c2d_messages_device ON c2d_messages(device_id, seq);
  -- Feedback messages waiting for a feedback receiver.
  CREATE TABLE c2d_feedback (
    seq            INTEGER PRIMARY KEY,
    message_id     TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    expiry_ms      INTEGER NOT NULL,
    delivery_count INTEGER NOT NULL,
    records        TEXT NOT NULL
  );
  `,
  // Module identities and their twins (docs/protocol.md §12.1), one row per module.
  `
  CREATE TABLE modules (
    device_id TEXT NOT NULL,
    module_id TEXT NOT NULL,
    record    TEXT NOT NULL,
    PRIMARY KEY (device_id, module_id)
  );
  `,
  // Configurations (automatic device management), one row each.
  `
  CREATE TABLE configurations (
    configuration_id TEXT PRIMARY KEY,
    record           TEXT NOT NULL
  );
  `,
  // The device store reads records on demand (docs/scaling.md §3.1): registry statistics count
  // enabled devices through this index instead of reading every record. A column the store
  // writes (not a generated one), so a twin write, which leaves the status alone, leaves the index alone.
  `
  ALTER TABLE devices ADD COLUMN status TEXT;
  UPDATE devices SET status = json_extract(record, '$.status');
  CREATE INDEX devices_status ON devices(status);
  `,
  // A twin write saves only the parts it changed (DeviceStore.saveTwin): serialising the whole
  // record was the largest cost of a twin write. Each non-NULL column replaces that part of
  // `record` when it is read; twin_version is set whenever any of them is. Writing `record`
  // itself (a whole-record save, by any statement) clears them all in the same statement's
  // trigger, so a writer that knows nothing of them stays correct.
  `
  ALTER TABLE devices ADD COLUMN twin_tags TEXT;
  ALTER TABLE devices ADD COLUMN twin_desired TEXT;
  ALTER TABLE devices ADD COLUMN twin_reported TEXT;
  ALTER TABLE devices ADD COLUMN twin_version INTEGER;
  ALTER TABLE devices ADD COLUMN twin_etag INTEGER;
  ALTER TABLE devices ADD COLUMN live TEXT;
  CREATE TRIGGER devices_record_supersedes_parts AFTER UPDATE OF record ON devices
  WHEN NEW.twin_version IS NOT NULL
  BEGIN
    UPDATE devices SET twin_tags = NULL, twin_desired = NULL, twin_reported = NULL, twin_version = NULL, twin_etag = NULL, live = NULL
    WHERE rowid = NEW.rowid;
  END;
  `,
  // Registry statistics count the devices that are not enabled (the enabled are the rest): an
  // index of every row's status made each registered device a third B-tree insert, about a fifth
  // of its SQLite insert (docs/scaling.md §3.1). This one holds only the disabled devices.
  `
  DROP INDEX devices_status;
  CREATE INDEX devices_not_enabled ON devices(status) WHERE status IS NOT 'enabled';
  `,
  // The twin parts a write saves on their own (the twin_* columns above) move to a narrow table
  // of their own, keyed by the device's rowid: laid into the devices row they made each part-wise
  // write rewrite the whole ~900-byte row, and a twin-update job's slice of 1,000 devices dirtied
  // ~250 pages where these ~350-byte rows dirty ~90 (bare SQLite on the hub's settings: 3.3–4.3
  // against 9.7–10.4 µs a write with its commit, docs/scaling.md §5). Same meaning as before: a
  // row here replaces those parts of the device's `record` when read (NULL: the part inside
  // `record`); writing `record` (a whole-record save, by any statement) deletes it in the trigger
  // (one probe of this small table per whole-record update). The store deletes it with its device.
  `
  CREATE TABLE device_twins (
    device_rowid INTEGER PRIMARY KEY,
    tags         TEXT,
    desired      TEXT,
    reported     TEXT,
    version      INTEGER NOT NULL,
    etag         INTEGER NOT NULL,
    live         TEXT
  );
  INSERT INTO device_twins (device_rowid, tags, desired, reported, version, etag, live)
    SELECT rowid, twin_tags, twin_desired, twin_reported, twin_version, twin_etag, live FROM devices WHERE twin_version IS NOT NULL;
  DROP TRIGGER devices_record_supersedes_parts;
  UPDATE devices SET twin_tags = NULL, twin_desired = NULL, twin_reported = NULL, twin_version = NULL, twin_etag = NULL, live = NULL
    WHERE twin_version IS NOT NULL;
  CREATE TRIGGER devices_record_supersedes_twin AFTER UPDATE OF record ON devices
  BEGIN
    DELETE FROM device_twins WHERE device_rowid = NEW.rowid;
  END;
  `,
];
