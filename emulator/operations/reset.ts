import { RESET_DISCONNECT_WAIT_MS } from '../limits.js';

/** What else a hub reset must do: the scheduler clears its jobs, a seed puts its devices back. */
export interface ResetHook {
  /** Clears state kept outside the device store. Runs first, so nothing still acts on devices while they go. */
  reset?(): void | Promise<void>;
  /** Runs once the hub is empty again. */
  afterReset?(): void | Promise<void>;
}

export interface ResetTargets {
  deviceIds(): string[];
  /** removes every device record from the store in one go */
  clearDevices(): void;
  /** what deleting one device does beyond the store: drop its connection, tell listeners */
  afterDelete(deviceId: string): void;
  clearSessions(): void;
  connectedCount(): number;
  /** recording and metrics: cleared last, so the disconnections a reset causes are not in them */
  clearObservations(): void;
}

export interface ResetResult {
  devicesRemoved: number;
}

/** Back to a hub with no devices, sessions, jobs or recorded history, without a restart (tests reset between cases). */
export class HubReset {
  private readonly hooks = new Set<ResetHook>();
  private running: Promise<ResetResult> | undefined;

  constructor(private readonly targets: ResetTargets) {}

  /** Registers a hook; returns the function that removes it. */
  add(hook: ResetHook): () => void {
    this.hooks.add(hook);
    return () => this.hooks.delete(hook);
  }

  run(): Promise<ResetResult> {
    // Two resets at once would interleave; the second caller gets the first one's result.
    this.running ??= this.perform().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async perform(): Promise<ResetResult> {
    const t = this.targets;
    for (const hook of this.hooks) await hook.reset?.();
    const ids = t.deviceIds();
    t.clearDevices();
    for (const id of ids) t.afterDelete(id);
    t.clearSessions();
    // Connections close asynchronously; their 'disconnected' events belong to the old state.
    const deadline = Date.now() + RESET_DISCONNECT_WAIT_MS;
    while (t.connectedCount() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    t.clearObservations();
    for (const hook of this.hooks) await hook.afterReset?.();
    return { devicesRemoved: ids.length };
  }
}
