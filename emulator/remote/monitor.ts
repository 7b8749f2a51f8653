import type { EntryKind, RecordedEntry } from '../operations/recorded-entry.js';
import { monitorEvent } from './monitor-format.js';
import type { RemoteHub } from './remote-hub.js';
import { readServerSentEvents } from './server-sent-events.js';

export interface MonitorOptions {
  deviceId?: string;
  kinds: readonly EntryKind[];
  /** `pretty`: indented JSON as az prints it; `json`: one JSON object per line, for tools */
  output: 'pretty' | 'json';
  /** stop after this many seconds without an event; 0 waits forever (az's --timeout) */
  idleTimeoutSeconds: number;
  /** also print what the hub still holds from before the monitor started */
  replay: boolean;
  hubName: string;
}

export interface MonitorOutput {
  event(text: string): void;
  status(text: string): void;
}

/**
 * Streams the emulator's /$emulator/events to the terminal like `az iot hub monitor-events`.
 * Resolves with the exit code: 0 when the idle timeout ends it, 1 when the emulator goes away.
 */
export async function monitor(hub: RemoteHub, options: MonitorOptions, out: MonitorOutput, signal?: AbortSignal): Promise<number> {
  const query = new URLSearchParams({ kind: options.kinds.join(',') });
  if (options.deviceId) query.set('deviceId', options.deviceId);
  if (options.replay) query.set('since', '0');
  const body = await hub.stream(`/$emulator/events?${query}`);
  const filtering = options.deviceId ? `filtering on device: ${options.deviceId}, ` : '';
  out.status(`Starting event monitor, ${filtering}use ctrl-c to stop...`);

  let idleTimer: NodeJS.Timeout | undefined;
  let endedByTimeout = false;
  const armIdleTimer = (): void => {
    if (options.idleTimeoutSeconds <= 0) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      endedByTimeout = true;
      body.destroy();
    }, options.idleTimeoutSeconds * 1000);
  };
  const onAbort = (): void => {
    endedByTimeout = true;
    body.destroy();
  };
  signal?.addEventListener('abort', onAbort);
  armIdleTimer();
  let failure: string | undefined;
  try {
    for await (const message of readServerSentEvents(body)) {
      armIdleTimer();
      const entry = JSON.parse(message.data) as RecordedEntry;
      const event = monitorEvent(entry, options.hubName);
      out.event(options.output === 'json' ? JSON.stringify(event) : JSON.stringify(event, null, 4));
    }
  } catch (error) {
    // A stopping emulator cuts its connections: the response ends 'aborted' rather than cleanly.
    if (!endedByTimeout) failure = (error as Error).message;
  } finally {
    clearTimeout(idleTimer);
    signal?.removeEventListener('abort', onAbort);
  }
  if (endedByTimeout) {
    if (!signal?.aborted) out.status(`Stopping event monitor: no event for ${options.idleTimeoutSeconds} s.`);
    return 0;
  }
  out.status(`The emulator closed the event stream${failure ? ` (${failure})` : ''}.`);
  return 1;
}
