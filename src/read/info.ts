/** journalInfo(): what a journal is without reading it all: its header, its size, the highest seq it has assigned. */
import { isVersion2, type Header } from '../format/header.js';
import { MAX_LINE_BYTES } from '../format/limits.js';
import { io } from '../fs/io.js';
import { FileLock } from '../fs/lock.js';
import { openJournalFile } from '../scan/open.js';
import { recoverTail } from '../scan/tail.js';

/** How long journalInfo may wait for the writers' lock. */
const LOCK_TIMEOUT_MS = 30_000;

export interface JournalInfo {
  header: Header;
  /** The file's size in bytes. */
  bytes: number;
  /** The highest seq ever assigned: the header's maxSeq or the last committed record's seq, whichever is higher; 0 if none. */
  lastSeq: number;
}

/**
 * Reads the header and the tail of the journal at `path` (only what a crash could have touched,
 * briefly under the writers' lock, so that a batch being written or a torn tail being cut is not
 * misread). Fails with NOT_FOUND, NOT_A_JOURNAL, or CORRUPT when the tail is damaged before durable data.
 */
export async function journalInfo(path: string): Promise<JournalInfo> {
  if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
  const { fd, header, headerEnd } = await openJournalFile(path, 'r');
  const lock = new FileLock(fd, path);
  try {
    await lock.acquire(LOCK_TIMEOUT_MS);
    try {
      const bytes = io.fstatSync(fd).size;
      const tail = await recoverTail(fd, path, headerEnd, bytes, MAX_LINE_BYTES, isVersion2(header));
      return { header, bytes, lastSeq: Math.max(header.maxSeq, tail.lastSeq) };
    } finally {
      lock.release();
    }
  } finally {
    await lock.closeWhenSettled(() => io.close(fd)).catch(() => {});
  }
}
