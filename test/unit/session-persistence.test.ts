import { pipeline as pipelineBinding, PassThrough, Readable, Transform, Writable } from 'node:stream';
import stream from 'node:stream';
import { pipeline as pipelinePromise } from 'node:stream/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createSessionPersistence } from '../../emulator/mqtt/session-persistence.js';

interface Persistence {
  outgoingStream(client: { id: string }): unknown;
  outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<unknown>;
}

/** What aedes's handlers/connect.js `emptyQueue` does with the outgoing replay of a CONNECT. */
function replay(persistence: Persistence, clientId: string): Promise<{ replayed: unknown[]; piped: boolean }> {
  const replayed: unknown[] = [];
  const through = new Transform({
    objectMode: true,
    transform(data, _enc, next) {
      replayed.push(data);
      next();
    },
  });
  return new Promise((resolve, reject) => {
    stream.pipeline(persistence.outgoingStream({ id: clientId }) as Readable, through, (error?: Error | null) =>
      // Node's pipeline ends the transform when its source ends; without one it is left as it was.
      error ? reject(error) : resolve({ replayed, piped: through.writableEnded }),
    );
  });
}

// session-persistence.ts answers a never-queued client's CONNECT replay without a stream pipeline.
describe('the CONNECT replay of the session persistence', () => {
  const persistence = createSessionPersistence() as unknown as Persistence;

  it('finishes without a pipeline for a client id that never had a packet queued', async () => {
    expect(await replay(persistence, 'never-queued')).toEqual({ replayed: [], piped: false });
  });

  it('replays what was queued for a client id, through Node’s own pipeline', async () => {
    const packet = {
      cmd: 'publish',
      topic: 'devices/q1/messages/devicebound/',
      payload: Buffer.from('x'),
      qos: 1,
      messageId: 7,
      brokerId: 'b',
      brokerCounter: 1,
    };
    await persistence.outgoingEnqueue({ clientId: 'q1' }, packet);
    const { replayed, piped } = await replay(persistence, 'q1');
    expect(piped).toBe(true);
    expect(replayed).toHaveLength(1);
    expect((replayed[0] as { topic: string }).topic).toBe('devices/q1/messages/devicebound/');
  });

  it('leaves every other pipeline to Node: callback, ESM binding, promisify, errors', async () => {
    expect(pipelineBinding).toBe(stream.pipeline);
    const chunks: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, next) {
        chunks.push(String(chunk));
        next();
      },
    });
    await new Promise<void>((resolve, reject) => pipelineBinding(Readable.from(['a', 'b']), new PassThrough(), sink, (e) => (e ? reject(e) : resolve())));
    expect(chunks).toEqual(['a', 'b']);
    await promisify(stream.pipeline)(Readable.from(['c']), new PassThrough(), new PassThrough().resume());
    const failing = new Readable({
      read() {
        this.destroy(new Error('boom'));
      },
    });
    await expect(pipelinePromise(failing, new PassThrough())).rejects.toThrow('boom');
    await expect(new Promise((resolve, reject) => stream.pipeline([], new PassThrough().resume(), (e) => (e ? reject(e) : resolve('done'))))).resolves.toBe(
      'done',
    );
  });
});
