import { spawn, type ChildProcess } from 'node:child_process';

/** A bench's helper process (a floor, a bare broker): its pid, for CPU and RSS readings, and how to stop it. */
export interface FloorProcess {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Runs `node …args` as a process of its own (as the emulator is), its stderr on ours, and resolves
 * once it writes to stdout (it says it is listening); rejects if it exits first. `name` is for
 * that error. stop() sends SIGTERM and waits for the exit.
 */
export async function startFloorProcess(name: string, args: readonly string[]): Promise<FloorProcess> {
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
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
