import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const LOCK_FILE = 'emulator.lock';
/** The holder touches its lock this often, so an emulator on another machine (a shared volume, a new container) can tell a live lock from a stale one. */
const HEARTBEAT_MS = 10_000;
const STALE_AFTER_MS = 3 * HEARTBEAT_MS;
/** Lock files this process holds: a lock naming our own pid that is not one of them was left by an earlier process with the same pid (a container restarted: pid 1 again). */
const heldHere = new Set<string>();

/** What the lock file says about the emulator holding a data directory. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** where it listens, for the message a second emulator prints */
  listen?: string;
  startedAt: string;
}

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `The data directory ${dataDir} is in use by another emulator (pid ${holder.pid}${holder.listen ? `, listening on ${holder.listen}` : ''}, since ${holder.startedAt}). ` +
        'Stop it, or give this one its own --data-dir (or --in-memory).',
    );
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  release(): void;
}

/**
 * Takes `<dataDir>/emulator.lock` for this process: two emulators on one SQLite store would share
 * and overwrite each other's state. A lock left by a process that no longer runs (kill -9, a
 * crash) is taken over. Created with O_EXCL, so of two emulators starting at once one wins.
 */
export function lockDataDir(dataDir: string, listen?: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  const mine: LockHolder = { pid: process.pid, hostname: os.hostname(), listen, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, `${JSON.stringify(mine)}\n`, { flag: 'wx' });
      heldHere.add(file);
      const heartbeat = setInterval(() => touch(file), HEARTBEAT_MS).unref();
      return {
        release: () => {
          clearInterval(heartbeat);
          heldHere.delete(file);
          releaseIfMine(file);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readHolder(file);
    if (holder && isAlive(holder, file)) throw new DataDirInUseError(dataDir, holder);
    // Stale (or unreadable, half-written by a crash): move it aside atomically so that only one
    // of several emulators taking over removes it, then try the exclusive create again.
    try {
      const aside = `${file}.stale-${process.pid}`;
      renameSync(file, aside);
      unlinkSync(aside);
    } catch {
      // another emulator moved it first; the next attempt sees whatever it wrote
    }
  }
  const holder = readHolder(file);
  throw holder ? new DataDirInUseError(dataDir, holder) : new Error(`Cannot take the lock ${file}`);
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
    return Number.isInteger(holder.pid) ? holder : undefined;
  } catch {
    return undefined;
  }
}

/**
 * On this machine: does its process still run (and is it the one that wrote the lock: not from
 * before a reboot, not an earlier process with our own pid)? On another machine, whose pids mean
 * nothing here: has it touched the lock lately?
 */
function isAlive(holder: LockHolder, file: string): boolean {
  if (holder.hostname !== os.hostname()) {
    try {
      return Date.now() - statSync(file).mtimeMs < STALE_AFTER_MS;
    } catch {
      return false;
    }
  }
  const bootedAt = Date.now() - os.uptime() * 1000;
  if (Date.parse(holder.startedAt) < bootedAt - 60_000) return false;
  if (holder.pid === process.pid) return heldHere.has(file);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function touch(file: string): void {
  try {
    const now = new Date();
    utimesSync(file, now, now);
  } catch {
    // removed by hand; nothing to keep fresh
  }
}

function releaseIfMine(file: string): void {
  try {
    if (readHolder(file)?.pid === process.pid) unlinkSync(file);
  } catch {
    // already gone
  }
}
