import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventLog } from '../../emulator/event-hubs/event-log.js';
import { partitionOf } from '../../emulator/event-hubs/partitioner.js';
import { parseSelector, startSequence } from '../../emulator/amqp/event-hubs/selector.js';
import { EventStore } from '../../emulator/store/event-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const tempDir = (): string => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'event-log-'));
  dirs.push(dir);
  return dir;
};
const bytes = (n: number) => () => Buffer.alloc(n, 7);

describe.each(['memory', 'disk'])('EventLog (%s)', (kind) => {
  const open = (options: { retentionHours?: number; retentionMb?: number; dir?: string } = {}): EventLog =>
    new EventLog({
      partitions: 2,
      retentionHours: options.retentionHours ?? 24,
      retentionMb: options.retentionMb ?? 1,
      store: kind === 'disk' ? new EventStore(options.dir ?? tempDir()) : undefined,
    });

  it('numbers events from 0 with byte offsets, and reads them back from any point', () => {
    const log = open();
    for (let i = 0; i < 5; i++) log.append(0, 1000 + i, bytes(100));
    log.flush();
    expect(log.read(0, 0, 10).map((e) => [e.sequenceNumber, e.offset])).toEqual([
      [0, 0],
      [1, 100],
      [2, 200],
      [3, 300],
      [4, 400],
    ]);
    expect(log.read(0, 3, 10).map((e) => e.sequenceNumber)).toEqual([3, 4]);
    expect(log.seqForOffset(0, 200, false)).toBe(3);
    expect(log.seqForOffset(0, 200, true)).toBe(2);
    expect(log.seqForTime(0, 1002)).toBe(3);
    expect(log.info(1)).toMatchObject({ isEmpty: true, lastSequenceNumber: -1, lastOffset: -1 });
    log.close();
  });

  it('drops events older than the retention time', () => {
    const log = open({ retentionHours: 1 });
    const now = Date.now();
    log.append(0, now - 2 * 3_600_000, bytes(10));
    log.append(0, now - 1000, bytes(10));
    log.applyRetention(now);
    expect(log.read(0, 0, 10).map((e) => e.sequenceNumber)).toEqual([1]);
    expect(log.info(0)).toMatchObject({ beginSequenceNumber: 1, lastSequenceNumber: 1, isEmpty: false });
    log.close();
  });

  it('keeps each partition within its share of the size bound, oldest first', () => {
    const log = open({ retentionMb: 1 }); // 512 KB per partition
    for (let i = 0; i < 10; i++) log.append(1, Date.now(), bytes(100 * 1024));
    log.flush();
    const kept = log.read(1, 0, 100);
    expect(kept.length).toBeLessThanOrEqual(6);
    expect(kept.at(-1)!.sequenceNumber).toBe(9);
    expect(log.info(1).beginSequenceNumber).toBe(kept[0].sequenceNumber);
    log.close();
  });

  it('clear() drops events and keeps the numbering', () => {
    const log = open();
    log.append(0, Date.now(), bytes(10));
    log.clear();
    expect(log.info(0)).toMatchObject({ isEmpty: true, lastSequenceNumber: 0 });
    expect(log.append(0, Date.now(), bytes(10)).sequenceNumber).toBe(1);
    log.close();
  });
});

describe('EventLog on disk', () => {
  it('continues numbering and serves old events after reopening', () => {
    const dir = tempDir();
    const first = new EventLog({ partitions: 1, retentionHours: 24, retentionMb: 10, store: new EventStore(dir) });
    for (let i = 0; i < 3; i++) first.append(0, 1000 + i, bytes(50));
    first.close();
    const second = new EventLog({ partitions: 1, retentionHours: 1e6, retentionMb: 10, store: new EventStore(dir) });
    expect(second.append(0, 2000, bytes(50))).toMatchObject({ sequenceNumber: 3, offset: 150 });
    expect(second.read(0, 0, 10).map((e) => e.sequenceNumber)).toEqual([0, 1, 2, 3]);
    expect(second.seqForOffset(0, 50, false)).toBe(2);
    expect(second.info(0).beginSequenceNumber).toBe(0);
    second.close();
  });
});

describe('start positions and partitions', () => {
  it('parses the selectors the Event Hubs SDK emits', () => {
    expect(parseSelector("amqp.annotation.x-opt-offset > '-1'")).toEqual({ kind: 'offset', value: '-1', inclusive: false });
    expect(parseSelector("amqp.annotation.x-opt-offset > '@latest'")).toEqual({ kind: 'offset', value: '@latest', inclusive: false });
    expect(parseSelector("amqp.annotation.x-opt-sequence-number >= '12'")).toEqual({ kind: 'sequence', value: 12, inclusive: true });
    expect(parseSelector("amqp.annotation.x-opt-enqueued-time > '1700000000000'")).toEqual({ kind: 'time', value: 1700000000000, inclusive: false });
    expect(parseSelector('amqp.annotation.x-opt-offset>5')).toEqual({ kind: 'offset', value: '5', inclusive: false });
    expect(parseSelector("x-opt-offset = '1'")).toBeUndefined();
  });

  it('resolves positions against what is retained', () => {
    const log = new EventLog({ partitions: 1, retentionHours: 24, retentionMb: 10 });
    for (let i = 0; i < 4; i++) log.append(0, 1000 + i, bytes(10));
    expect(startSequence(log, 0, undefined)).toBe(0);
    expect(startSequence(log, 0, { kind: 'offset', value: '@latest', inclusive: false })).toBe(4);
    expect(startSequence(log, 0, { kind: 'sequence', value: -1, inclusive: false })).toBe(0);
    expect(startSequence(log, 0, { kind: 'sequence', value: 1, inclusive: true })).toBe(1);
    expect(startSequence(log, 0, { kind: 'time', value: 1001, inclusive: false })).toBe(2);
    log.close();
  });

  it('puts a device on the same partition every time, spreading devices over all of them', () => {
    expect(partitionOf('door-1', 4)).toBe(partitionOf('door-1', 4));
    const used = new Set(Array.from({ length: 100 }, (_, i) => partitionOf(`door-${i}`, 4)));
    expect(used).toEqual(new Set([0, 1, 2, 3]));
  });
});
