import aedesPersistence from 'aedes-persistence';

interface ClientRef {
  id: string;
}
type Callback = (...args: unknown[]) => void;

/** The part of aedes-persistence 11 (its callback/promise layer over the memory store) this wraps. */
interface Persistence {
  storeRetained(packet: object, cb?: Callback): unknown;
  createRetainedStream(pattern: string): unknown;
  createRetainedStreamCombi(patterns: string[]): unknown;
  addSubscriptions(client: ClientRef, subs: object[], cb?: Callback): unknown;
  outgoingEnqueue(sub: { clientId: string }, packet: object, cb?: Callback): unknown;
  outgoingEnqueueCombi(subs: { clientId: string }[], packet: object, cb?: Callback): unknown;
  outgoingStream(client: ClientRef): unknown;
}

/** What a retained-message stream is when nothing was ever retained: aedes only pipes it into its sender. */
const nothingRetained = { pipe: <T>(destination: T): T => destination };

/** The outgoing queue of a client that was never queued anything: `stream.pipeline` reads any iterable as a source. */
const nothingQueued: readonly object[] = Object.freeze([]);

/**
 * aedes' in-memory session store (aedes-persistence, the one aedes uses by default), with the
 * retained-message stream and the repeated filter stores of every SUBSCRIBE answered at once
 * (docs/scaling.md §3.3). aedes's CONNECT replay (a `stream.pipeline` per connect) stays as aedes
 * builds it (its `pipeline` is a module binding of aedes's, docs/scaling.md §3.3.2); its source is
 * made cheap where there is nothing to replay:
 * - aedes reads retained messages for every SUBSCRIBE (two nested `Readable.from` and a pipe). The
 *   hub never retains a message (broker.ts clears RETAIN before aedes stores anything, docs/protocol.md
 *   §1.9), so until something has been stored there is nothing to read;
 * - aedes stores a SUBSCRIBE's filters once per filter, each time the packet's whole list (three
 *   filters, nine stores); the list is stored the first time and the repeats of that same list
 *   (aedes passes the packet's array itself, unchanged between them) are answered at once.
 * - aedes replays a client's outgoing queue at every CONNECT (and empties it at a clean start)
 *   through `stream.pipeline(persistence.outgoingStream(client), …)`, and aedes-persistence's
 *   stream is a `Readable.from` of a `Readable.from` of the queue: two streams, their end-of-stream
 *   watchers and an async iterator per connect, which outlive the young generation in a connect
 *   storm (a quarter of the bytes promoted while 2,000 devices connect). Only `outgoingEnqueue` and
 *   `outgoingEnqueueCombi` put messages in a queue, so a client never named by them gets an empty
 *   array, which `pipeline` reads as a source without building streams for it.
 * Everything else (subscriptions, wills, QoS 1 and 2 state) is aedes-persistence itself.
 */
export function createSessionPersistence(): object {
  // The package is CommonJS: its default import is the factory itself (its typings say `.default`).
  const persistence = (aedesPersistence as unknown as () => Persistence)();
  let anyRetained = false;

  const storeRetained = persistence.storeRetained.bind(persistence);
  persistence.storeRetained = (packet, cb) => {
    anyRetained = true;
    return storeRetained(packet, cb);
  };
  const retainedStream = persistence.createRetainedStream.bind(persistence);
  persistence.createRetainedStream = (pattern) => (anyRetained ? retainedStream(pattern) : nothingRetained);
  const retainedStreamCombi = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.createRetainedStreamCombi = (patterns) => (anyRetained ? retainedStreamCombi(patterns) : nothingRetained);

  const storedLists = new WeakSet<object[]>();
  const addSubscriptions = persistence.addSubscriptions.bind(persistence);
  persistence.addSubscriptions = (client, subs, cb) => {
    if (cb || !storedLists.has(subs)) {
      storedLists.add(subs);
      return addSubscriptions(client, subs, cb);
    }
    return Promise.resolve();
  };

  const mayHaveQueued = new Set<string>();
  const enqueue = persistence.outgoingEnqueue.bind(persistence);
  persistence.outgoingEnqueue = (sub, packet, cb) => {
    mayHaveQueued.add(sub.clientId);
    return enqueue(sub, packet, cb);
  };
  const enqueueCombi = persistence.outgoingEnqueueCombi.bind(persistence);
  persistence.outgoingEnqueueCombi = (subs, packet, cb) => {
    for (const sub of subs) mayHaveQueued.add(sub.clientId);
    return enqueueCombi(subs, packet, cb);
  };
  const outgoingStream = persistence.outgoingStream.bind(persistence);
  persistence.outgoingStream = (client) => (mayHaveQueued.has(client.id) ? outgoingStream(client) : nothingQueued);

  return persistence;
}
