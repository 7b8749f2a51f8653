import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createSessionPersistence } from '../../emulator/mqtt/session-persistence.js';

// The session store's shortcuts over aedes-persistence (emulator/mqtt/session-persistence.ts):
// a client never queued a message replays an empty array, a queued one its queue as aedes stored it.

interface Outgoing {
  outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<void>;
  outgoingEnqueueCombi(subs: { clientId: string }[], packet: object): Promise<void>;
  outgoingStream(client: { id: string }): Iterable<unknown> | AsyncIterable<unknown>;
}

async function replayed(source: Iterable<unknown> | AsyncIterable<unknown>): Promise<string[]> {
  const topics: string[] = [];
  for await (const packet of Readable.from(source)) topics.push((packet as { topic: string }).topic);
  return topics;
}

const publish = (topic: string): object => ({
  cmd: 'publish',
  topic,
  payload: Buffer.from('x'),
  qos: 1,
  retain: false,
  dup: false,
  brokerId: 'b',
  brokerCounter: 1,
});

describe('session persistence', () => {
  it('replays nothing, without a stream, for a client never queued a message', async () => {
    const persistence = createSessionPersistence() as Outgoing;
    const source = persistence.outgoingStream({ id: 'never' });
    expect(Array.isArray(source)).toBe(true);
    expect(await replayed(source)).toEqual([]);
  });

  it('replays what outgoingEnqueue and outgoingEnqueueCombi queued, in order, for those clients only', async () => {
    const persistence = createSessionPersistence() as Outgoing;
    await persistence.outgoingEnqueue({ clientId: 'one' }, publish('devices/one/messages/devicebound/a'));
    await persistence.outgoingEnqueueCombi([{ clientId: 'one' }, { clientId: 'two' }], publish('devices/x/messages/devicebound/b'));
    expect(await replayed(persistence.outgoingStream({ id: 'one' }))).toEqual(['devices/one/messages/devicebound/a', 'devices/x/messages/devicebound/b']);
    expect(await replayed(persistence.outgoingStream({ id: 'two' }))).toEqual(['devices/x/messages/devicebound/b']);
    expect(await replayed(persistence.outgoingStream({ id: 'three' }))).toEqual([]);
  });
});
