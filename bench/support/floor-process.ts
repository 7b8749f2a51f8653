import { spawn, type ChildProcess } from 'node:child_process';
import type net from 'node:net';

/** A bench's helper process (a floor, a bare broker): its pid, for CPU and RSS readings, and how to stop it. */
export interface FloorProcess {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Runs `node …args` as a process of its own (as the emulator is), with the Node flags of
 * IOTHUB_EMULATOR_BENCH_FLOOR_NODE_ARGS and its stderr on ours, and resolves once it writes to
 * stdout (it says it is listening); rejects if it exits first. `name` is for that error. stop()
 * sends SIGTERM and waits for the exit.
 */
export async function startFloorProcess(name: string, args: readonly string[]): Promise<FloorProcess> {
  const nodeArgs = (process.env.IOTHUB_EMULATOR_BENCH_FLOOR_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code}`)));
  });
  return {
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/**
 * The helper process's own side of startFloorProcess: listens on each server's port, says so on
 * stdout (what startFloorProcess waits for), and on SIGTERM closes the servers, runs `stop` (a
 * broker's close, say) and exits.
 */
export async function listenAsFloor(
  host: string,
  listeners: readonly (readonly [net.Server, number])[],
  stop: (done: () => void) => void = (done) => done(),
): Promise<void> {
  for (const [server, port] of listeners) await new Promise<void>((resolve) => server.listen(port, host, () => resolve()));
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    for (const [server] of listeners) server.close();
    stop(() => process.exit(0));
  });
}
