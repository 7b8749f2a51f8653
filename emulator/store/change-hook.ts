/**
 * What a store tells the parts that keep something derived from its records (the query indexes of
 * emulator/selection/): which key changed and the record it holds now (undefined: deleted), or
 * that everything was cleared. Called after the change is in memory. Services mutate records in
 * place, so a listener cannot diff the record it is given against an old copy: it keeps its own
 * memory of what it derived from each key.
 */
export interface ChangeHook<R> {
  changed(key: string, record: R | undefined): void;
  cleared(): void;
}

/** The listeners of one store. */
export class ChangeHooks<R> {
  private readonly hooks: ChangeHook<R>[] = [];

  add(hook: ChangeHook<R>): void {
    this.hooks.push(hook);
  }

  changed(key: string, record: R | undefined): void {
    for (const hook of this.hooks) hook.changed(key, record);
  }

  cleared(): void {
    for (const hook of this.hooks) hook.cleared();
  }
}
