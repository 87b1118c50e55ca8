/**
 * The writers' exclusive lock: flock(2) on the journal's own open file description, with at most
 * one blocking wait per process, on a thread of the addon's own (docs/design.md, "The writers' lock").
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ErrorCode, JournalError, ioError, typed } from '../errors.js';
import { io } from './io.js';

const MAX_POLL_MS = 16;

export class FileLock {
  readonly #fd: number;
  readonly #path: string;
  /** A blocking flock on this fd that has not returned yet. */
  #waiting: Promise<void> | null = null;
  /** Whether that flock keeps the event loop alive: only while somebody waits for it. */
  #refWait: ((on: boolean) => void) | null = null;
  /** Whether an acquire is awaiting #waiting (if not, its grant is released at once). */
  #wanted = false;
  #held = false;

  constructor(fd: number, path: string) {
    this.#fd = fd;
    this.#path = path;
  }

  get held(): boolean {
    return this.#held;
  }

  async acquire(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#held) throw new Error('internal: lock acquired twice');
    try {
      await this.#acquire(timeoutMs, signal);
    } catch (err) {
      throw typed(err, 'cannot lock', this.#path);
    }
  }

  async #acquire(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#waiting === null && io.tryLockSync(this.#fd)) {
      this.#held = true;
      return;
    }
    const deadline = Date.now() + timeoutMs;
    let pollMs = 1;
    for (;;) {
      if (signal?.aborted) throw abortError(signal, this.#path);
      if (this.#waiting === null) this.#startBlockingWait();
      if (this.#waiting !== null) {
        this.#wanted = true;
        this.#refWait?.(true);
        const granted = await untilDeadline(this.#waiting, deadline, signal);
        if (granted) {
          this.#held = true;
          return;
        }
        this.#wanted = false;
        this.#refWait?.(false);
        throw this.#timeout(timeoutMs, signal);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw this.#timeout(timeoutMs, signal);
      // An abort ends the wait early; the loop's first check turns it into ABORTED.
      await delay(Math.min(pollMs, left), undefined, { signal }).catch(() => {});
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
      if (this.#waiting === null && io.tryLockSync(this.#fd)) {
        this.#held = true;
        return;
      }
    }
  }

  /**
   * A non-blocking attempt: true if the lock is now held. With `shared`, a shared lock (LOCK_SH),
   * which any number of holders may have at once and which excludes only an exclusive one.
   */
  tryAcquire(shared = false): boolean {
    if (this.#held || this.#waiting !== null) return false;
    try {
      if (!(shared ? io.tryLockSharedSync(this.#fd) : io.tryLockSync(this.#fd))) return false;
    } catch (err) {
      throw typed(err, 'cannot lock', this.#path);
    }
    this.#held = true;
    return true;
  }

  /** Gives the lock back; a failure to do so is an IO_ERROR (closing the fd then releases it). */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      io.unlockSync(this.#fd);
    } catch (err) {
      throw ioError('cannot release the lock on', this.#path, err);
    }
  }

  /**
   * Runs `closeFd` once no blocking flock is in flight on the fd: closing it earlier could let the
   * fd number be reused and the late grant be released on someone else's file.
   */
  closeWhenSettled(closeFd: () => Promise<void>): Promise<void> {
    if (this.#waiting === null) return closeFd();
    this.#wanted = false;
    this.#refWait?.(false);
    this.#waiting.then(closeFd, closeFd).catch(() => {});
    return Promise.resolve();
  }

  /** Starts a blocking flock, unless this process (any thread) has one waiting already. */
  #startBlockingWait(): void {
    const started = io.lockWait(this.#fd);
    if (started === null) return;
    this.#refWait = started.ref?.bind(started) ?? null;
    const wait = started.finally(() => {
      this.#waiting = null;
      this.#refWait = null;
    });
    this.#waiting = wait;
    // A grant nobody waits for any more is given back at once, so peers are not blocked by it.
    wait.then(() => {
      if (!this.#wanted) io.unlockSync(this.#fd);
      this.#wanted = false;
    }, () => {
      this.#wanted = false;
    });
  }

  #timeout(timeoutMs: number, signal?: AbortSignal): JournalError {
    if (signal?.aborted) return abortError(signal, this.#path);
    return new JournalError(ErrorCode.LOCK_TIMEOUT, `${this.#path}: the writers' lock was not granted within ${timeoutMs} ms`, { path: this.#path });
  }
}

export function abortError(signal: AbortSignal, path: string): JournalError {
  return new JournalError(ErrorCode.ABORTED, `${path}: aborted`, { path, cause: signal.reason });
}

/** Resolves true when `p` settles before the deadline (rejecting if it rejects), false otherwise. */
function untilDeadline(p: Promise<void>, deadline: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const done = (v: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(v);
    };
    const onAbort = () => done(false);
    // setTimeout clamps delays it cannot represent (Infinity among them) to 1 ms.
    const timer = Number.isFinite(deadline) ? setTimeout(() => done(false), Math.max(0, deadline - Date.now())) : undefined;
    signal?.addEventListener('abort', onAbort, { once: true });
    p.then(() => done(true), (err) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
  });
}
