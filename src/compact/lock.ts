/**
 * The lock that keeps compactions of one journal apart: flock on `.<name>.lock` beside it, a file
 * of its own so that holding it for the whole compaction does not block writers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { dirOf, io } from '../fs/io.js';
import { FileLock } from '../fs/lock.js';

/** Takes the compaction lock (waiting for it with `wait`, else failing with COMPACTING); resolves with its release. */
export async function takeCompactionLock(file: string, o: { wait?: boolean; signal?: AbortSignal }): Promise<() => Promise<void>> {
  if (io.statSync(file) === null) throw new JournalError(ErrorCode.NOT_FOUND, `${file} does not exist`, { path: file });
  const lockPath = path.join(dirOf(file), `.${path.basename(file)}.lock`);
  let fd: number;
  try {
    fd = await io.open(lockPath, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  } catch (err) {
    throw ioError('cannot open the compaction lock', lockPath, err);
  }
  const lock = new FileLock(fd, lockPath);
  try {
    if (o.wait) await lock.acquire(Number.POSITIVE_INFINITY, o.signal);
    else if (!lock.tryAcquire()) throw new JournalError(ErrorCode.COMPACTING, `${file}: another compaction is running`, { path: file });
  } catch (err) {
    await lock.closeWhenSettled(() => io.close(fd)).catch(() => {});
    throw err;
  }
  return async () => {
    try {
      lock.release();
    } finally {
      await lock.closeWhenSettled(() => io.close(fd));
    }
  };
}
