import mqemitter from 'mqemitter';
import { describe, expect, it } from 'vitest';
import { DeviceTopicEmitter } from '../../emulator/mqtt/device-topic-emitter.js';

type Emitter = {
  on(topic: string, listener: (m: { topic: string }, done: () => void) => void, done?: () => void): unknown;
  removeListener(topic: string, listener: (m: { topic: string }, done: () => void) => void, done?: () => void): unknown;
  emit(message: { topic: string }, callback?: (error?: Error) => void): unknown;
};

const FILTERS = [
  '$iothub/twin/res/#',
  '$iothub/methods/POST/#',
  '$iothub/twin/PATCH/properties/desired/#',
  'devices/d1/messages/devicebound/#',
  'devices/d1/modules/m1/inputs/#',
  '$SYS/+/new/clients',
  '$SYS/+/heartbeat',
  'devices/+/messages/events/#',
  '#',
  'a/b',
  'a/#',
];
const TOPICS = [
  '$iothub/twin/res/200/?$rid=1',
  '$iothub/twin/res',
  '$iothub/twin/resx/200',
  '$iothub/methods/POST/lockDoor/?$rid=7',
  '$iothub/twin/PATCH/properties/desired/?$version=2',
  '$iothub/twin/PATCH/properties/reported/?$rid=2',
  'devices/d1/messages/devicebound/%24.mid=1',
  'devices/d1/messages/devicebound',
  'devices/d2/messages/devicebound/x',
  'devices/d1/modules/m1/inputs/in1/',
  'devices/d1/messages/events/',
  '$SYS/abc/new/clients',
  '$SYS/abc/heartbeat',
  'a',
  'a/b',
  'a/',
  'a/b/c',
];

/** Which listeners (by filter) a publish on `topic` reaches, and that the callback comes once. */
async function reached(emitter: Emitter, hits: string[], topic: string): Promise<string[]> {
  hits.length = 0;
  let calls = 0;
  await new Promise<void>((resolve) =>
    emitter.emit({ topic }, () => {
      calls++;
      resolve();
    }),
  );
  expect(calls).toBe(1);
  return [...hits].sort();
}

function build(emitter: Emitter, filters: readonly string[], hits: string[]) {
  const listeners = new Map<string, (m: { topic: string }, done: () => void) => void>();
  for (const filter of filters) {
    const listener = (_m: { topic: string }, done: () => void) => {
      hits.push(filter);
      done();
    };
    listeners.set(filter, listener);
    emitter.on(filter, listener);
  }
  return listeners;
}

describe('DeviceTopicEmitter matches as mqemitter does', () => {
  it('reaches the same listeners for every topic, with wildcards, prefixes, $ topics and empty levels', async () => {
    const oursHits: string[] = [];
    const theirsHits: string[] = [];
    const ours = new DeviceTopicEmitter() as unknown as Emitter;
    const theirs = mqemitter({ matchEmptyLevels: true }) as unknown as Emitter;
    const oursListeners = build(ours, FILTERS, oursHits);
    const theirsListeners = build(theirs, FILTERS, theirsHits);
    for (const topic of TOPICS) {
      expect(await reached(ours, oursHits, topic), topic).toEqual(await reached(theirs, theirsHits, topic));
    }
    // After removing some (including a shared device filter and a trie filter), still the same.
    for (const filter of ['$iothub/twin/res/#', '#', 'a/b', 'devices/d1/messages/devicebound/#']) {
      await new Promise<void>((r) => ours.removeListener(filter, oursListeners.get(filter)!, r));
      await new Promise<void>((r) => theirs.removeListener(filter, theirsListeners.get(filter)!, r));
    }
    for (const topic of TOPICS) {
      expect(await reached(ours, oursHits, topic), topic).toEqual(await reached(theirs, theirsHits, topic));
    }
  });

  it('keeps thousands of listeners of one device filter and removes any of them alone', async () => {
    const emitter = new DeviceTopicEmitter() as unknown as Emitter;
    const got: number[] = [];
    const listeners = Array.from({ length: 5000 }, (_, i) => (_m: { topic: string }, done: () => void) => {
      got.push(i);
      done();
    });
    for (const l of listeners) emitter.on('$iothub/methods/POST/#', l);
    for (let i = 0; i < 5000; i++) if (i !== 2500) emitter.removeListener('$iothub/methods/POST/#', listeners[i]!);
    await new Promise<void>((r) => emitter.emit({ topic: '$iothub/methods/POST/m/?$rid=1' }, () => r()));
    expect(got).toEqual([2500]);
  });

  it('answers a publish nothing matches at once, and refuses publishes once closed', async () => {
    const emitter = new DeviceTopicEmitter();
    let answered = false;
    emitter.emit({ topic: 'devices/x/messages/events/' }, () => (answered = true));
    expect(answered).toBe(true);
    await new Promise<void>((r) => emitter.close(r));
    const error = await new Promise<Error | undefined>((r) => emitter.emit({ topic: 'devices/x/messages/events/' }, r));
    expect(error?.message).toMatch(/closed/);
  });
});
