import type { JsonObject } from '../twin/json.js';
import { resolve, type Contender, type Resolution } from './configuration-content.js';
import { statusRows } from './status-rows.js';

/**
 * One combination of configurations that target a twin together, in precedence order, and what
 * it resolves to (docs/protocol.md §17). Ten thousand twins targeted by the same configurations
 * share one set, so the resolution, the patch's text and the metric statuses are computed once
 * per combination, not once per twin.
 *
 * Sets are interned in a trie over the configurations' precedence indexes: a set is reached from
 * the empty one by adding indexes in increasing order, so the same combination is always the
 * same object. A trie lives as long as the list of configurations it indexes.
 */
export class ContenderSet<C extends Contender = Contender> {
  private readonly next = new Map<number, ContenderSet<C>>();
  private readonly indexes: ReadonlySet<number>;
  private resolved: Resolution | undefined;
  private text: string | undefined;
  private statusesMemo: JsonObject | undefined;
  private rows: ((view: object) => object) | undefined;

  private constructor(
    readonly contenders: readonly C[],
    indexes: readonly number[],
    private readonly trie: { size: number },
  ) {
    this.indexes = new Set(indexes);
    trie.size++;
  }

  /** The empty set: no configuration targets the twin (the root of a new trie). */
  static empty<C extends Contender>(): ContenderSet<C> {
    return new ContenderSet<C>([], [], { size: 0 });
  }

  /** How many sets the trie this set belongs to holds. */
  get trieSize(): number {
    return this.trie.size;
  }

  get isEmpty(): boolean {
    return this.contenders.length === 0;
  }

  /** This set with the configuration at precedence `index` added; indexes must be added in increasing order. */
  with(index: number, contender: C): ContenderSet<C> {
    let set = this.next.get(index);
    if (!set) {
      set = new ContenderSet([...this.contenders, contender], [...this.indexes, index], this.trie);
      this.next.set(index, set);
    }
    return set;
  }

  has(index: number): boolean {
    return this.indexes.has(index);
  }

  /** Whether every setting of the configuration at `index` wins on a twin this set targets. */
  applies(index: number, id: string): boolean {
    return this.has(index) && this.resolution.applied.get(id) === true;
  }

  /** The winning settings as one desired patch (shared: callers must not change it). */
  get resolution(): Resolution {
    this.resolved ??= resolve(this.contenders);
    return this.resolved;
  }

  /** The patch as JSON text: twins whose sets resolve to the same patch are written together. */
  get patchText(): string {
    this.text ??= JSON.stringify(this.resolution.patch);
    return this.text;
  }

  /** What metric queries see as a twin's `configurations`: `{ id: { status: 'Applied' | 'Targeted' } }`. */
  get statuses(): JsonObject {
    if (!this.statusesMemo) {
      const statuses: JsonObject = {};
      for (const [id, wins] of this.resolution.applied) statuses[id] = { status: wins ? 'Applied' : 'Targeted' };
      this.statusesMemo = statuses;
    }
    return this.statusesMemo;
  }

  /** A twin's view as metric queries read it, with these statuses as its `configurations`. */
  statusRow(view: object): object {
    this.rows ??= statusRows(this.statuses);
    return this.rows(view);
  }
}
