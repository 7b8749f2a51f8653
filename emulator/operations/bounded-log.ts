/**
 * A first-in, first-out log that keeps the newest `capacity` items: a ring, so a hub under
 * steady telemetry never shifts arrays or grows without bound.
 */
export class BoundedLog<T> {
  private items: (T | undefined)[] = [];
  private start = 0;
  private length = 0;
  private droppedCount = 0;

  constructor(private capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`A log capacity must be a whole number; got ${capacity}`);
  }

  get size(): number {
    return this.length;
  }

  /** How many items were pushed out to make room since the last clear. */
  get dropped(): number {
    return this.droppedCount;
  }

  push(item: T): void {
    if (this.capacity === 0) {
      this.droppedCount++;
      return;
    }
    if (this.length < this.capacity) {
      this.items[(this.start + this.length) % this.capacity] = item;
      this.length++;
      return;
    }
    this.items[this.start] = item;
    this.start = (this.start + 1) % this.capacity;
    this.droppedCount++;
  }

  /** Oldest first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.length; i++) yield this.items[(this.start + i) % this.capacity] as T;
  }

  clear(): void {
    this.items = [];
    this.start = 0;
    this.length = 0;
    this.droppedCount = 0;
  }
}
