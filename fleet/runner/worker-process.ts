// Entry point of a fleet worker process: holds a share of the devices and reports to its parent.
import type { DeviceHost, FromWorker, ToWorker } from './device-host.js';
import { LocalHost } from './local-host.js';

const STATS_INTERVAL_MS = 500;

function send(message: FromWorker): void {
  process.send?.(message);
}

let host: LocalHost | undefined;
let ticker: NodeJS.Timeout | undefined;
let stopping = false;

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  const snapshot = host ? await (host as DeviceHost).stop() : undefined;
  if (snapshot) send({ type: 'stopped', snapshot });
  process.disconnect?.();
  process.exit(0);
}

// Ctrl-C reaches the whole process group: the parent decides when and how devices disconnect.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => void stop());
// An orphaned worker (the parent died) disconnects its devices and leaves.
process.on('disconnect', () => void stop());

process.on('message', (message: ToWorker) => {
  if (message.type === 'stop') {
    void stop();
    return;
  }
  if (message.type === 'start' && !host) {
    try {
      host = new LocalHost(message.part);
    } catch (error) {
      send({ type: 'failed', message: (error as Error).message });
      process.exit(1);
    }
    ticker = setInterval(() => send({ type: 'stats', snapshot: host!.snapshot() }), STATS_INTERVAL_MS);
    host.start().then(
      () => {
        // Fresh numbers first: the parent reads them as soon as it hears the ramp is over.
        send({ type: 'stats', snapshot: host!.snapshot() });
        send({ type: 'started' });
      },
      (error: Error) => send({ type: 'failed', message: error.message }),
    );
  }
});
