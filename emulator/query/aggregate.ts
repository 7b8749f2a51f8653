/**
 * COUNT/SUM/AVG/MIN/MAX accumulators and grouping.
 *
 * Value rules (the docs say nothing; these follow Cosmos DB, whose SQL dialect the hub's
 * query language is, and SQL): COUNT() counts rows; SUM and AVG consider numbers only and
 * ignore every other value; MIN/MAX consider strings, numbers and booleans, skipping null as
 * SQL aggregates do, and order mixed types false < true < numbers < strings (so
 * MAX(lastActivityTime) gives the latest ISO timestamp). SUM over no numbers is 0;
 * AVG/MIN/MAX over nothing are undefined, i.e. omitted from the item.
 */
import type { AggregateFn, Value } from './ast.js';
import type { Getter } from './paths.js';
import { isPrimitive, mixedOrder } from './semantics.js';

export interface Accumulator {
  add(row: unknown): void;
  /** undefined = leave the property out of the result item. */
  result(): Value;
}

class Count implements Accumulator {
  private n = 0;
  add(): void {
    this.n++;
  }
  result(): Value {
    return this.n;
  }
}

class Sum implements Accumulator {
  private sum = 0;
  constructor(private readonly get: Getter) {}
  add(row: unknown): void {
    const v = this.get(row);
    if (typeof v === 'number') this.sum += v;
  }
  result(): Value {
    return Number.isFinite(this.sum) ? this.sum : undefined;
  }
}

class Avg implements Accumulator {
  private sum = 0;
  private n = 0;
  constructor(private readonly get: Getter) {}
  add(row: unknown): void {
    const v = this.get(row);
    if (typeof v === 'number') {
      this.sum += v;
      this.n++;
    }
  }
  result(): Value {
    const avg = this.sum / this.n;
    return Number.isFinite(avg) ? avg : undefined;
  }
}

class Extreme implements Accumulator {
  private best: string | number | boolean | null | undefined;
  private any = false;
  /** sign 1 keeps the maximum, -1 the minimum. */
  constructor(
    private readonly get: Getter,
    private readonly sign: 1 | -1,
  ) {}
  add(row: unknown): void {
    const v = this.get(row);
    if (v === null || !isPrimitive(v)) return;
    if (!this.any || mixedOrder(v, this.best as string | number | boolean | null) * this.sign > 0) {
      this.best = v;
      this.any = true;
    }
  }
  result(): Value {
    return this.best;
  }
}

export type AccumulatorFactory = () => Accumulator;

/** `arg` is required for everything but COUNT; plan.ts guarantees it. */
export function accumulatorFactory(fn: AggregateFn, arg: Getter | undefined): AccumulatorFactory {
  const get: Getter = arg ?? (() => undefined);
  switch (fn) {
    case 'COUNT':
      return () => new Count();
    case 'SUM':
      return () => new Sum(get);
    case 'AVG':
      return () => new Avg(get);
    case 'MIN':
      return () => new Extreme(get, -1);
    case 'MAX':
      return () => new Extreme(get, 1);
  }
}

export interface Group {
  /** The first row of the group: where the grouped property's value and spelling come from. */
  readonly first: unknown;
  readonly accumulators: readonly Accumulator[];
}

/**
 * Groups keyed by the GROUP BY value, in order of first appearance. Primitives (and
 * `undefined`: rows lacking the property form a group of their own, as in Cosmos DB) key a
 * Map directly, so 'Success' and a number never merge; objects and arrays are keyed by their
 * JSON text.
 */
export class Grouper {
  private readonly byValue = new Map<Value, Group>();
  private readonly byJson = new Map<string, Group>();
  readonly groups: Group[] = [];

  constructor(private readonly factories: readonly AccumulatorFactory[]) {}

  add(key: Value, row: unknown): void {
    let group: Group | undefined;
    if (key === undefined || isPrimitive(key)) {
      group = this.byValue.get(key);
      if (group === undefined) {
        group = this.create(row);
        this.byValue.set(key, group);
      }
    } else {
      const json = JSON.stringify(key);
      group = this.byJson.get(json);
      if (group === undefined) {
        group = this.create(row);
        this.byJson.set(json, group);
      }
    }
    for (const a of group.accumulators) a.add(row);
  }

  private create(first: unknown): Group {
    const group = { first, accumulators: this.factories.map((f) => f()) };
    this.groups.push(group);
    return group;
  }
}
