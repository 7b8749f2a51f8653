/**
 * Keys whose twins want re-evaluating, gathered while one turn of the event loop runs and handed
 * over together on the next (setImmediate): a burst of twin events costs one evaluation, after the
 * writes that caused them. Shared by the configuration service and the IoT Edge deployments.
 */
export class PendingKeys {
  private readonly keys = new Set<string>();
  private scheduled = false;

  constructor(private readonly flush: (keys: string[]) => void) {}

  add(key: string): void {
    this.keys.add(key);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const keys = [...this.keys];
      this.keys.clear();
      this.flush(keys);
    });
  }

  /** Forgets what is waiting (a hub reset); a flush already scheduled hands over nothing. */
  clear(): void {
    this.keys.clear();
  }
}
