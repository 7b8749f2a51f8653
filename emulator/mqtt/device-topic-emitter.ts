import mqemitter from 'mqemitter';

type Message = { topic: string } & Record<string, unknown>;
type Listener = (message: Message, done: () => void) => void;

/** What this uses of mqemitter 7 (its typings leave out `closed`, `concurrency` and `removeAllListeners`). */
interface MQEmitter {
  readonly closed: boolean;
  readonly current: number;
  readonly concurrency: number;
  on(topic: string, listener: Listener, done?: () => void): unknown;
  removeListener(topic: string, listener: Listener, done?: () => void): unknown;
  removeAllListeners(topic: string, done?: () => void): unknown;
  emit(message: Message, callback?: (error?: Error) => void): unknown;
  close(callback: () => void): unknown;
}

/**
 * aedes' broker-wide matcher (its `mq` option), with IoT Hub's device filters kept out of the
 * shared topic trie (docs/scaling.md §3.3).
 *
 * Every device subscribes to the same filters (`$iothub/twin/res/#`, `$iothub/methods/POST/#`,
 * `$iothub/twin/PATCH/properties/desired/#`). In mqemitter's trie each of them is one node whose
 * listeners are an array, and removing one is `indexOf` + `splice`: N disconnects cost O(N²). Here
 * a filter that is a literal prefix and a trailing `#` (every filter IoT Hub lets a device
 * subscribe to, its own C2D and module-input filters included) keeps its listeners in a `Set`,
 * added and removed in O(1); anything else (aedes' own `$SYS/+/…` listeners) stays in an ordinary
 * mqemitter. A publish is matched against both, so the emitter means exactly what mqemitter means;
 * in practice nothing the broker publishes matches a device filter, because hub-to-device traffic is
 * written to one client's connection (device-connections.ts, c2d-delivery.ts), never published.
 */
export class DeviceTopicEmitter {
  private readonly trie: MQEmitter;
  /** `prefix` (the filter without its `/#`) → listeners of `prefix/#` */
  private readonly prefixed = new Map<string, Set<Listener>>();
  /** first topic level of each filter in the trie → its listeners there: a publish none can match skips the trie */
  private readonly trieFirstLevels = new Map<string, Map<Listener, number>>();

  constructor(options: { concurrency?: number } = {}) {
    // What aedes builds when it is given no `mq` ([MQTT-4.7.1-3]: empty levels match).
    this.trie = mqemitter({ concurrency: options.concurrency, matchEmptyLevels: true }) as unknown as MQEmitter;
  }

  get closed(): boolean {
    return this.trie.closed;
  }

  get current(): number {
    return this.trie.current;
  }

  get concurrency(): number {
    return this.trie.concurrency;
  }

  on(topic: string, listener: Listener, done?: () => void): this {
    const prefix = literalPrefix(topic);
    if (prefix === undefined) {
      this.countTrie(topic, listener, +1);
      this.trie.on(topic, listener, done);
      return this;
    }
    let set = this.prefixed.get(prefix);
    if (!set) {
      set = new Set();
      this.prefixed.set(prefix, set);
    }
    set.add(listener);
    if (done) setImmediate(done);
    return this;
  }

  removeListener(topic: string, listener: Listener, done?: () => void): this {
    const prefix = literalPrefix(topic);
    if (prefix === undefined) {
      // Counted down when the trie has removed it (mqemitter does so on the next turn).
      this.trie.removeListener(topic, listener, () => {
        this.countTrie(topic, listener, -1);
        done?.();
      });
      return this;
    }
    const set = this.prefixed.get(prefix);
    if (set?.delete(listener) && set.size === 0) this.prefixed.delete(prefix);
    // mqemitter answers a removal asynchronously; aedes waits for it before forgetting the subscription.
    if (done) setImmediate(done);
    return this;
  }

  removeAllListeners(topic: string, done?: () => void): this {
    const prefix = literalPrefix(topic);
    if (prefix === undefined) {
      // mqemitter drops every listener of this filter; the level stays counted, which only means the trie is asked.
      this.trie.removeAllListeners(topic, done);
      return this;
    }
    this.prefixed.delete(prefix);
    if (done) setImmediate(done);
    return this;
  }

  emit(message: Message, callback?: (error?: Error) => void): this {
    const matched = this.prefixed.size === 0 || this.trie.closed ? undefined : this.matchPrefixed(message.topic);
    if (!matched) {
      // What mqemitter does for a topic nothing matches (its fan-out over no listeners), without matching.
      if (!this.trie.closed && !this.trieMayMatch(message.topic)) callback?.();
      else this.trie.emit(message, callback);
      return this;
    }
    // The trie's listeners and these, one callback when all are done (as mqemitter's own fan-out).
    let pending = matched.length + 1;
    let failed: Error | undefined;
    const one = (error?: Error): void => {
      if (error && !failed) failed = error;
      if (--pending === 0) callback?.(failed);
    };
    this.trie.emit(message, one);
    for (const listener of matched) listener(message, one);
    return this;
  }

  close(callback: () => void): void {
    this.prefixed.clear();
    this.trie.close(callback);
  }

  /** Whether a filter in the trie can match the topic: one starting with a wildcard, or with the topic's own first level. */
  private trieMayMatch(topic: string): boolean {
    if (this.trieFirstLevels.size === 0) return false;
    return this.trieFirstLevels.has('+') || this.trieFirstLevels.has('#') || this.trieFirstLevels.has(firstLevel(topic));
  }

  /** Counts a listener of a trie filter in (+1) or out (-1) under the filter's first level (one listener may hold several filters). */
  private countTrie(filter: string, listener: Listener, by: 1 | -1): void {
    const level = firstLevel(filter);
    let listeners = this.trieFirstLevels.get(level);
    const count = (listeners?.get(listener) ?? 0) + by;
    if (count > 0) {
      if (!listeners) {
        listeners = new Map();
        this.trieFirstLevels.set(level, listeners);
      }
      listeners.set(listener, count);
      return;
    }
    listeners?.delete(listener);
    if (listeners?.size === 0) this.trieFirstLevels.delete(level);
  }

  /** The listeners of every `prefix/#` the topic falls under: `a/#` matches `a`, `a/b`, `a/b/c`. */
  private matchPrefixed(topic: string): Listener[] | undefined {
    let matched: Listener[] | undefined;
    const add = (prefix: string): void => {
      const set = this.prefixed.get(prefix);
      if (!set) return;
      matched ??= [];
      for (const listener of set) matched.push(listener);
    };
    // [MQTT-4.7.2-1]: a topic starting with `$` is matched only by a filter that starts with `$` too,
    // which a literal prefix does by itself.
    for (let slash = topic.indexOf('/'); slash >= 0; slash = topic.indexOf('/', slash + 1)) add(topic.slice(0, slash));
    add(topic);
    return matched;
  }
}

function firstLevel(topic: string): string {
  const slash = topic.indexOf('/');
  return slash < 0 ? topic : topic.slice(0, slash);
}

/** `a/b/#` → `a/b`; undefined for a filter with a `+`, without a trailing `/#`, or `#` alone. */
function literalPrefix(filter: string): string | undefined {
  if (filter.length < 3 || !filter.endsWith('/#')) return undefined;
  const prefix = filter.slice(0, -2);
  return prefix.includes('+') || prefix.includes('#') ? undefined : prefix;
}
