import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HubEvents } from '../emulator/events.js';
import { BoundedLog } from '../emulator/operations/bounded-log.js';
import { decodeBody } from '../emulator/operations/recorded-entry.js';
import { Recording } from '../emulator/operations/recording.js';
import { HubReset } from '../emulator/operations/reset.js';
import { alreadyHolds } from '../emulator/operations/apply-seed.js';
import { readServerSentEvents } from '../emulator/remote/server-sent-events.js';

describe('BoundedLog', () => {
  it('keeps the newest items in order and counts what it dropped', () => {
    const log = new BoundedLog<number>(3);
    for (let i = 1; i <= 7; i++) log.push(i);
    expect([...log]).toEqual([5, 6, 7]);
    expect(log.dropped).toBe(4);
    log.clear();
    log.push(8);
    expect([...log]).toEqual([8]);
    expect(log.dropped).toBe(0);
  });

  it('with capacity 0 keeps nothing', () => {
    const log = new BoundedLog<number>(0);
    log.push(1);
    expect([...log]).toEqual([]);
    expect(log.dropped).toBe(1);
  });
});

describe('Recording', () => {
  it('merges telemetry and the other entries back into the order they happened', () => {
    const events = new HubEvents();
    const recording = new Recording({ recordingLimit: 10, telemetryBuffer: 10 });
    recording.attach(events);
    events.emit('deviceCreated', { deviceId: 'a' });
    events.emit('telemetry', { deviceId: 'a', payload: Buffer.from('1'), properties: {}, enqueuedTime: 't' });
    events.emit('twinUpdated', { deviceId: 'a', side: 'device', section: 'reported', patch: { x: 1 }, version: 2 });
    events.emit('telemetry', { deviceId: 'b', payload: Buffer.from('2'), properties: {}, enqueuedTime: 't' });
    expect(recording.entries().map((e) => `${e.seq}:${e.kind}:${e.deviceId}`)).toEqual(['1:device:a', '2:telemetry:a', '3:twin:a', '4:telemetry:b']);
    expect(recording.entries({ kind: ['twin', 'telemetry'], deviceId: 'a' }).map((e) => e.seq)).toEqual([2, 3]);
  });

  it('copies twin patches, so later changes to the emitted object do not rewrite history', () => {
    const events = new HubEvents();
    const recording = new Recording();
    recording.attach(events);
    const patch = { x: 1 };
    events.emit('twinUpdated', { deviceId: 'a', side: 'service', section: 'desired', patch, version: 2 });
    patch.x = 2;
    expect(recording.twinPatches()[0].patch).toEqual({ x: 1 });
  });
});

describe('decodeBody', () => {
  it.each([
    [Buffer.from('{"a":1}'), { payload: { a: 1 }, encoding: 'json' }],
    [Buffer.from('42'), { payload: 42, encoding: 'json' }],
    [Buffer.from('héllo'), { payload: 'héllo', encoding: 'text' }],
    [Buffer.from([0xc3, 0x28]), { payload: 'wyg=', encoding: 'base64' }],
    [Buffer.alloc(0), { payload: '', encoding: 'text' }],
  ])('%o', (body, expected) => {
    expect(decodeBody(body)).toEqual(expected);
  });
});

describe('alreadyHolds (is a seed value already there?)', () => {
  it.each([
    [{ a: 1, b: { c: 2, d: 3 } }, { b: { c: 2 } }, true],
    [{ a: 1 }, { a: 2 }, false],
    [{ a: 1 }, { b: null }, true],
    [{ a: 1 }, { a: null }, false],
    [{ a: [1, 2] }, { a: [1, 2] }, true],
    [{ a: 1 }, { a: {} }, false],
    [{ a: { x: 1 } }, { a: {} }, true],
  ])('%j holds %j: %s', (current, patch, expected) => {
    expect(alreadyHolds(current, patch as never)).toBe(expected);
  });
});

describe('HubReset', () => {
  it('runs hooks first, removes devices, waits for connections to close, clears observations, then runs afterReset', async () => {
    const order: string[] = [];
    let connected = 2;
    const reset = new HubReset({
      deviceIds: () => ['a', 'b'],
      clearDevices: () => order.push('clear devices'),
      afterDelete: (id) => {
        order.push(`deleted ${id}`);
        setTimeout(() => connected--, 20);
      },
      clearSessions: () => order.push('clear sessions'),
      connectedCount: () => connected,
      clearObservations: () => order.push(`clear observations (connected ${connected})`),
    });
    reset.add({ reset: () => void order.push('hook reset'), afterReset: () => void order.push('hook afterReset') });
    const [first, second] = await Promise.all([reset.run(), reset.run()]);
    expect(first).toEqual({ devicesRemoved: 2 });
    expect(second).toBe(first);
    expect(order).toEqual(['hook reset', 'clear devices', 'deleted a', 'deleted b', 'clear sessions', 'clear observations (connected 0)', 'hook afterReset']);
  });
});

describe('readServerSentEvents', () => {
  it('reads events split anywhere across chunks, with CRLF, comments and multi-line data', async () => {
    const stream = Readable.from([': hello\n', 'retry: 2000\n\nid: 7\r\nevent: tele', 'metry\ndata: {"a":\ndata: 1}\n', '\n', 'data: x\n\n']);
    const events = [];
    for await (const event of readServerSentEvents(stream)) events.push(event);
    expect(events).toEqual([
      { id: '7', event: 'telemetry', data: '{"a":\n1}' },
      { id: '7', event: 'message', data: 'x' },
    ]);
  });
});
