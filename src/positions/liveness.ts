/**
 * Whether a consumer is running: an open consumer holds a flock on `locks/<name>.lock` (a group's
 * members a shared one), which resets and deletes take too (docs/design.md, "Named consumers").
 */
import fs from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { makeDirDurably } from '../fs/durable.js';
import { io } from '../fs/io.js';
import { FileLock } from '../fs/lock.js';
import { consumersDir, lockFile, locksDir } from './layout.js';

/**
 * A lock that is taken by someone else may be held only for an instant, by a check of whether the
 * consumer is live: the attempt is repeated for about this long before the consumer counts as running.
 */
const BUSY_RETRY_MS = 100;

export class LiveLock {
  readonly path: string;
  readonly #fd: number;
  readonly #lock: FileLock;
  readonly #ino: number;
  readonly #dev: number;

  private constructor(file: string, fd: number, lock: FileLock) {
    this.path = file;
    this.#fd = fd;
    this.#lock = lock;
    const id = io.fstatSync(fd);
    this.#ino = id.ino;
    this.#dev = id.dev;
  }

  /**
   * Takes consumer `name`'s lock, exclusively or (for a group member) shared, failing with
   * CONSUMER_BUSY when a process holds it in the other mode (or, for `exclusive`, at all).
   */
  static async hold(journal: string, name: string, shared: boolean): Promise<LiveLock> {
    const held = await LiveLock.#take(journal, name, shared, BUSY_RETRY_MS);
    if (held !== null) return held;
    const who = shared ? 'open as a single consumer (not a group)' : 'open in a running process (or another Consumer of this one)';
    throw new JournalError(ErrorCode.CONSUMER_BUSY, `${journal}: consumer '${name}' is ${who}`, { path: journal });
  }

  /** Takes consumer `name`'s lock exclusively if nobody holds it, at once; null when it is live. */
  static async takeIfIdle(journal: string, name: string): Promise<LiveLock | null> {
    return LiveLock.#take(journal, name, false, 0);
  }

  static async #take(journal: string, name: string, shared: boolean, retryMs: number): Promise<LiveLock | null> {
    await makeDirDurably(consumersDir(journal));
    await makeDirDurably(locksDir(journal));
    const file = lockFile(journal, name);
    const deadline = Date.now() + retryMs;
    for (let wait = 1; ; wait = Math.min(wait * 2, 16)) {
      let fd: number;
      try {
        fd = await io.open(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
      } catch (err) {
        throw ioError('cannot open the consumer lock', file, err);
      }
      const lock = new FileLock(fd, file);
      let got = false;
      try {
        got = lock.tryAcquire(shared);
        // A lock on a file that a delete removed meanwhile names nothing: take the new one.
        const now = got ? io.statSync(file) : null;
        const mine = io.fstatSync(fd);
        if (got && now !== null && now.ino === mine.ino && now.dev === mine.dev) return new LiveLock(file, fd, lock);
      } catch (err) {
        await io.close(fd).catch(() => {});
        throw err;
      }
      lock.release();
      await io.close(fd).catch(() => {});
      if (got) continue;
      if (Date.now() >= deadline) return null;
      await delay(wait);
    }
  }

  /** Whether this lock's file is gone from its path: a forced reset or delete took the consumer from its holder. */
  fenced(): boolean {
    const now = io.statSync(this.path);
    return now === null || now.ino !== this.#ino || now.dev !== this.#dev;
  }

  /** Removes the lock file while holding it (a delete): whoever opens the name next makes a new one. */
  async remove(): Promise<void> {
    await removeLockFile(this.path);
  }

  async release(): Promise<void> {
    try {
      this.#lock.release();
    } finally {
      await io.close(this.#fd);
    }
  }
}

/** Whether consumer `name` is open in a running process now (a member of a group counts). */
export async function isLive(journal: string, name: string): Promise<boolean> {
  const file = lockFile(journal, name);
  let fd: number;
  try {
    fd = await io.open(file, fs.constants.O_RDWR);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError('cannot open the consumer lock', file, err);
  }
  const lock = new FileLock(fd, file);
  try {
    if (!lock.tryAcquire()) return true;
    lock.release();
    return false;
  } finally {
    await io.close(fd).catch(() => {});
  }
}

/** Removes the lock file at `file`, fencing off whoever holds it. */
export async function removeLockFile(file: string): Promise<void> {
  try {
    await io.unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('cannot remove the consumer lock', file, err);
  }
}
