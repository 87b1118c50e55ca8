/**
 * Opening journal files: reading the header, creating a journal crash-safely, and cleaning up the
 * temp files that a crash during creation or compaction can leave behind.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, JournalError, ioError } from './errors.js';
import { decodeHeader, encodeHeader, type Header } from './format.js';
import { dirOf, io } from './io.js';

/** A header longer than this is not one of ours. */
const HEADER_MAX = 64 * 1024;

export interface HeaderInfo {
  header: Header;
  /** Offset just after the header line: where the first record line starts. */
  headerEnd: number;
}

export async function readHeader(fd: number, file: string): Promise<HeaderInfo> {
  let buf = Buffer.allocUnsafe(4096);
  let have = 0;
  for (;;) {
    let n: number;
    try {
      n = await io.read(fd, buf, have, buf.length - have, have);
    } catch (err) {
      // A directory opens read-only on Linux, and only fails when read.
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') {
        throw new JournalError(ErrorCode.NOT_A_JOURNAL, `${file} is a directory, not a journal`, { path: file, cause: err });
      }
      throw ioError('cannot read', file, err);
    }
    const lf = buf.subarray(0, have + n).indexOf(0x0a, have);
    have += n;
    if (lf >= 0) return { header: decodeHeader(buf.subarray(0, lf), file), headerEnd: lf + 1 };
    if (n === 0 || have >= HEADER_MAX) {
      decodeHeader(buf.subarray(0, have), file);
      throw new JournalError(ErrorCode.NOT_A_JOURNAL, `${file} is not a jsonl-journal file (no complete header line)`, { path: file, offset: 0, line: 1 });
    }
    if (have === buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, have);
      buf = bigger;
    }
  }
}

/** Opens an existing file read-write or read-only, turning system errors into JournalErrors. */
export async function openFile(file: string, mode: 'r' | 'r+'): Promise<number> {
  try {
    return await io.open(file, mode === 'r' ? fs.constants.O_RDONLY : fs.constants.O_RDWR);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new JournalError(ErrorCode.NOT_FOUND, `${file} does not exist`, { path: file, cause: err });
    if (code === 'EISDIR') throw new JournalError(ErrorCode.NOT_A_JOURNAL, `${file} is a directory, not a journal`, { path: file, cause: err });
    throw ioError('cannot open', file, err);
  }
}

/** Opens an existing journal and reads its header; closes the fd again if that fails. */
export async function openJournalFile(file: string, mode: 'r' | 'r+'): Promise<{ fd: number } & HeaderInfo> {
  const fd = await openFile(file, mode);
  try {
    return { fd, ...(await readHeader(fd, file)) };
  } catch (err) {
    await io.close(fd).catch(() => {});
    throw err;
  }
}

/** Name of a temp file next to the journal. `kind` says who made it (create, compact, ...). */
export function tempName(file: string, kind: string): string {
  return path.join(dirOf(file), `.${path.basename(file)}.${kind}-${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Creates the journal with its header if it does not exist. The header is written to a temp file
 * and fsynced, then linked into place: link(2) fails if the name exists, so of two processes
 * creating at once exactly one wins and the other opens the winner's journal; and the name never
 * points at a file without its header. The directory fsync makes the new name durable.
 * Returns false if the journal already existed.
 */
export async function createJournalFile(file: string, header: Header): Promise<boolean> {
  const dir = dirOf(file);
  for (let attempt = 0; ; attempt++) {
    const tmp = tempName(file, 'create');
    let fd: number;
    try {
      fd = await io.open(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
    } catch (err) {
      throw ioError('cannot create', tmp, err);
    }
    let linked = false;
    try {
      // Held while the temp is live, so a concurrent cleanup can tell it from a crash leftover.
      io.tryLockSync(fd);
      const bytes = encodeHeader(header);
      await writeFully(fd, bytes, 0, tmp);
      await io.fsync(fd).catch((err) => {
        throw ioError('cannot fsync', tmp, err, ErrorCode.SYNC_FAILED);
      });
      try {
        await io.link(tmp, file);
        linked = true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') return false;
        // A concurrent cleanup took our temp for a leftover: try again with a new one.
        if (code === 'ENOENT' && attempt < 5) continue;
        throw ioError('cannot create', file, err);
      }
    } finally {
      await io.unlink(tmp).catch(() => {});
      await io.close(fd).catch(() => {});
    }
    if (linked) {
      await io.fsyncDir(dir).catch((err) => {
        throw ioError('cannot fsync directory', dir, err, ErrorCode.SYNC_FAILED);
      });
      return true;
    }
  }
}

/** Writes all of `buf` at `pos`, looping over short writes. */
export async function writeFully(fd: number, buf: Buffer, pos: number, file: string): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    let n: number;
    try {
      n = await io.write(fd, buf, off, buf.length - off, pos + off);
    } catch (err) {
      throw ioError('cannot write', file, err, ErrorCode.WRITE_FAILED);
    }
    if (n <= 0) throw new JournalError(ErrorCode.WRITE_FAILED, `cannot write ${file}: no progress`, { path: file });
    off += n;
  }
}

/** A temp file younger than this is left alone even when unlocked: its creator may not have locked it yet. */
const STALE_AFTER_MS = 2000;

/**
 * Removes temp files a crashed creation or compaction left next to the journal. A temp is a
 * leftover only if nobody holds its lock (a live creator or compactor always does, moments after
 * creating it) and it is not brand new.
 */
export async function removeStaleTemps(file: string): Promise<string[]> {
  const dir = dirOf(file);
  const prefix = `.${path.basename(file)}.`;
  let names: string[];
  try {
    names = await io.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const tmp = path.join(dir, name);
    let fd: number;
    try {
      fd = await io.open(tmp, fs.constants.O_RDONLY);
    } catch {
      continue;
    }
    try {
      const fresh = Date.now() - fs.fstatSync(fd).mtimeMs < STALE_AFTER_MS;
      if (!fresh && io.tryLockSync(fd)) {
        await io.unlink(tmp);
        removed.push(tmp);
      }
    } catch {
      // Gone already, or not ours to remove: either way nothing to clean.
    } finally {
      await io.close(fd).catch(() => {});
    }
  }
  return removed;
}
