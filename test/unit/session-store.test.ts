import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../emulator/store/database.js';
import { SessionStore } from '../../emulator/store/session-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function onDisk() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iothub-emulator-sessions-'));
  dirs.push(dir);
  return () => openDatabase({ dataDir: dir, inMemory: false });
}

const rows = (db: ReturnType<ReturnType<typeof onDisk>>) => db.prepare('SELECT client_id, topic, qos FROM mqtt_subscriptions ORDER BY client_id, topic').all();

describe('SessionStore (CleanSession=0 subscriptions, written once per turn)', () => {
  it('writes the changes of one turn together, and what a reopened store reads is what was held', async () => {
    const open = onDisk();
    const db = open();
    const store = new SessionStore(db);
    store.add('a', [
      { topic: 't/1/#', qos: 0 },
      { topic: 't/2/#', qos: 1 },
    ]);
    store.add('b', [{ topic: 't/1/#', qos: 1 }]);
    store.removeTopics('a', ['t/2/#']);
    store.add('c', [{ topic: 't/3/#', qos: 0 }]);
    store.forget('c');
    // Nothing written yet in this turn; the next turn writes it all.
    expect(rows(db)).toEqual([]);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(rows(db)).toEqual([
      { client_id: 'a', topic: 't/1/#', qos: 0 },
      { client_id: 'b', topic: 't/1/#', qos: 1 },
    ]);
    // A later change, flushed explicitly (the hub's stop), survives a reopen.
    store.add('b', [{ topic: 't/1/#', qos: 0 }]);
    store.flush();
    db.close();
    const again = new SessionStore(open());
    expect([...again.all()]).toEqual([
      ['a', [{ topic: 't/1/#', qos: 0 }]],
      ['b', [{ topic: 't/1/#', qos: 0 }]],
    ]);
  });

  it('subscribing to what a client already holds writes nothing', async () => {
    const db = onDisk()();
    const store = new SessionStore(db);
    store.add('a', [{ topic: 't/#', qos: 1 }]);
    store.flush();
    let statements = 0;
    db.function('count_write', () => ++statements);
    db.exec(
      'CREATE TRIGGER count_insert AFTER INSERT ON mqtt_subscriptions BEGIN SELECT count_write(); END; CREATE TRIGGER count_delete AFTER DELETE ON mqtt_subscriptions BEGIN SELECT count_write(); END;',
    );
    store.add('a', [{ topic: 't/#', qos: 1 }]);
    store.forget('never-subscribed');
    store.removeTopics('a', ['not/held/#']);
    store.flush();
    expect(statements).toBe(0);
    store.add('a', [{ topic: 't/#', qos: 0 }]);
    store.flush();
    expect(statements).toBeGreaterThan(0);
    db.close();
  });

  it('clear empties the table and drops what was still to be written', async () => {
    const db = onDisk()();
    const store = new SessionStore(db);
    store.add('a', [{ topic: 't/#', qos: 1 }]);
    store.flush();
    store.add('b', [{ topic: 't/#', qos: 1 }]);
    store.clear();
    await new Promise((r) => setImmediate(r));
    expect(rows(db)).toEqual([]);
    expect(store.all().size).toBe(0);
    db.close();
  });
});
