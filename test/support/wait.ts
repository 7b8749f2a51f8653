import { vi } from 'vitest';

type Truthy<T> = T extends false | '' | 0 | null | undefined ? never : T;

/**
 * The suite's one way to wait for something that happens on its own time (a device subscribing,
 * a job finishing, a process printing a line): polls `check` until it returns a truthy value and
 * resolves with that value. vi.waitUntil underneath; this adds the name of what was awaited to
 * the timeout error, which is what a failing run on a busy machine needs to say.
 *
 * An error thrown by `check` fails the wait at once: it means something is wrong, not "not yet".
 * Prefer a hub event or a promise when one exists; poll what has none (state read over REST,
 * a child process's output).
 */
export async function waitUntil<T>(check: () => T | Promise<T>, timeoutMs = 5000, what = 'condition', intervalMs = 20): Promise<Truthy<T>> {
  try {
    return (await vi.waitUntil(check, { timeout: timeoutMs, interval: intervalMs })) as Truthy<T>;
  } catch (error) {
    if (error instanceof Error && error.message === 'Timed out in waitUntil!') {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    throw error;
  }
}
