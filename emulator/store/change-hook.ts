/** Which parts of a record's twin a write changed (DeviceStore.saveTwin writes only those). */
export interface TwinParts {
  tags?: boolean;
  desired?: boolean;
  reported?: boolean;
}

/**
 * What a store tells the parts that keep something derived from its records (the query indexes of
 * emulator/selection/): which key changed and the record it holds now (undefined: deleted), or
 * that everything was cleared. Called after the change is in memory. Services mutate records in
 * place, so a listener cannot diff the record it is given against an old copy: it keeps its own
 * memory of what it derived from each key.
 *
 * `parts`, when given, says the change wrote only those twin parts (and the twin's version and
 * etag, which nothing indexes): what is derived from anything else of the record still holds. A
 * twin-update job's slice changes only `desired`, and re-reading every indexed path of each of its
 * 100,000 records was ~5 µs a device (docs/scaling.md §5).
 */
export interface ChangeHook<R> {
  changed(key: string, record: R | undefined, parts?: Readonly<TwinParts>): void;
  cleared(): void;
}

/** The listeners of one store. */
export class ChangeHooks<R> {
  private readonly hooks: ChangeHook<R>[] = [];

  add(hook: ChangeHook<R>): void {
    this.hooks.push(hook);
  }

  changed(key: string, record: R | undefined, parts?: Readonly<TwinParts>): void {
    for (const hook of this.hooks) hook.changed(key, record, parts);
  }

  cleared(): void {
    for (const hook of this.hooks) hook.cleared();
  }
}
