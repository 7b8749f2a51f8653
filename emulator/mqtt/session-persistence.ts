import aedesPersistence from 'aedes-persistence';
import { syncBuiltinESMExports } from 'node:module';
import stream from 'node:stream';

interface ClientRef {
  id: string;
}
interface SubscriptionRef {
  clientId: string;
}
type Callback = (...args: unknown[]) => void;

/** The part of aedes-persistence 11 (its callback/promise layer over the memory store) this wraps. */
interface Persistence {
  storeRetained(packet: object, cb?: Callback): unknown;
  createRetainedStream(pattern: string): unknown;
  createRetainedStreamCombi(patterns: string[]): unknown;
  outgoingEnqueue(sub: SubscriptionRef, packet: object, cb?: Callback): unknown;
  outgoingEnqueueCombi(subs: SubscriptionRef[], packet: object, cb?: Callback): unknown;
  outgoingUpdate(client: ClientRef, packet: object, cb?: Callback): unknown;
  outgoingStream(client: ClientRef): unknown;
  addSubscriptions(client: ClientRef, subs: object[], cb?: Callback): unknown;
}

/** What a retained-message stream is when nothing was ever retained: aedes only pipes it into its sender. */
const nothingRetained = { pipe: <T>(destination: T): T => destination };

/** The outgoing replay of a client id that never had a packet queued: only this module hands it out. */
const NOTHING_QUEUED: readonly unknown[] = Object.freeze([]);

type PipelineCallback = (error?: Error | null) => void;
const shortcutMark = Symbol('iothub-emulator empty CONNECT replay');

/**
 * aedes ends every CONNECT with `pipeline(persistence.outgoingStream(client), through(…), done)`
 * (its handlers/connect.js `emptyQueue`), imported from `stream`; Node's pipeline builds an
 * AbortController and, when it finishes, aborts it — a `DOMException` with a captured stack per
 * connect — even when the source is an empty list (docs/scaling.md §3.3.1: 5–7% of a connection's
 * CPU). aedes offers no option around it, so `stream.pipeline` is wrapped, once per process: a call
 * whose source is NOTHING_QUEUED (which nothing but `outgoingStream` below returns, and only for a
 * client id with nothing ever queued) calls its callback on the next tick, as the pipeline of an
 * empty source would once it ended, without building one; every other call is Node's own. The
 * ESM bindings of `stream` (aedes imports `{ pipeline }`) are re-synced to the wrapper.
 */
function shortcutEmptyReplays(): void {
  const original = stream.pipeline as unknown as ((...args: unknown[]) => unknown) & { [shortcutMark]?: true };
  if (original[shortcutMark]) return;
  const wrapped = function pipeline(this: unknown, ...args: unknown[]): unknown {
    if (args[0] === NOTHING_QUEUED && args.length === 3 && typeof args[2] === 'function') {
      process.nextTick(args[2] as PipelineCallback);
      return args[1];
    }
    return original.apply(this, args);
  };
  // util.promisify(stream.pipeline) goes through Node's own promisified pipeline, as before.
  for (const key of Object.getOwnPropertySymbols(original)) Object.defineProperty(wrapped, key, Object.getOwnPropertyDescriptor(original, key)!);
  Object.defineProperty(wrapped, shortcutMark, { value: true });
  (stream as unknown as { pipeline: unknown }).pipeline = wrapped;
  syncBuiltinESMExports();
}

/**
 * aedes' in-memory session store (aedes-persistence, the one aedes uses by default), with the two
 * streams every connection pays for answered at once when they can only be empty
 * (docs/scaling.md §3.3):
 * - aedes reads retained messages for every SUBSCRIBE (two nested `Readable.from` and a pipe). The
 *   hub never retains a message (broker.ts clears RETAIN before aedes stores anything, docs/protocol.md
 *   §1.9), so until something has been stored there is nothing to read;
 * - aedes replays every CONNECT's stored outgoing packets through a stream pipeline. A client id
 *   that never had a packet queued for it has none; it gets an empty list, for which no pipeline
 *   is built at all (shortcutEmptyReplays). Any client id that ever had one goes the normal way;
 * - aedes stores a SUBSCRIBE's filters once per filter, each time the packet's whole list (three
 *   filters, nine stores); the list is stored the first time and the repeats of that same list
 *   (aedes passes the packet's array itself, unchanged between them) are answered at once.
 * Everything else (subscriptions, wills, QoS 1 and 2 state) is aedes-persistence itself.
 */
export function createSessionPersistence(): object {
  // The package is CommonJS: its default import is the factory itself (its typings say `.default`).
  const persistence = (aedesPersistence as unknown as () => Persistence)();
  shortcutEmptyReplays();
  const everQueued = new Set<string>();
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

  const enqueue = persistence.outgoingEnqueue.bind(persistence);
  persistence.outgoingEnqueue = (sub, packet, cb) => {
    everQueued.add(sub.clientId);
    return enqueue(sub, packet, cb);
  };
  const enqueueCombi = persistence.outgoingEnqueueCombi.bind(persistence);
  persistence.outgoingEnqueueCombi = (subs, packet, cb) => {
    for (const sub of subs) everQueued.add(sub.clientId);
    return enqueueCombi(subs, packet, cb);
  };
  const update = persistence.outgoingUpdate.bind(persistence);
  persistence.outgoingUpdate = (client, packet, cb) => {
    everQueued.add(client.id);
    return update(client, packet, cb);
  };
  const outgoingStream = persistence.outgoingStream.bind(persistence);
  persistence.outgoingStream = (client) => (everQueued.has(client.id) ? outgoingStream(client) : NOTHING_QUEUED);

  const storedLists = new WeakSet<object[]>();
  const addSubscriptions = persistence.addSubscriptions.bind(persistence);
  persistence.addSubscriptions = (client, subs, cb) => {
    if (cb || !storedLists.has(subs)) {
      storedLists.add(subs);
      return addSubscriptions(client, subs, cb);
    }
    return Promise.resolve();
  };

  return persistence;
}
