/**
 * Writing so that it lasts: all of a buffer, whole files by write-replace or exclusive creation,
 * and the directory fsyncs that make a rename or link survive a power loss (docs/guarantees.md).
 */
import fs from 'node:fs';
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { dirOf, io } from './io.js';
import { closeTemp, createTemp, type Temp } from './temps.js';

export interface WriteAllOptions {
  /** Pieces up to this size are written with a synchronous call: cheaper than a threadpool round trip. @default 0 */
  syncBelow?: number;
  /** The first write takes at most this many bytes (crash tests split a batch with it). */
  firstPiece?: number;
  /** Called after each write with the bytes written so far. */
  afterWrite?: (written: number) => void;
}

/** Writes all of `buf` at `pos` of `fd`, looping over short writes. Fails with WRITE_FAILED naming `file`. */
export async function writeAll(fd: number, buf: Buffer, pos: number, file: string, o: WriteAllOptions = {}): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const len = off === 0 && o.firstPiece !== undefined ? Math.min(o.firstPiece, buf.length) : buf.length - off;
    let n: number;
    try {
      n = len <= (o.syncBelow ?? 0) ? io.writeSync(fd, buf, off, len, pos + off) : await io.write(fd, buf, off, len, pos + off);
    } catch (err) {
      throw ioError('cannot write', file, err, ErrorCode.WRITE_FAILED);
    }
    if (n <= 0) throw new JournalError(ErrorCode.WRITE_FAILED, `cannot write ${file}: no progress`, { path: file });
    off += n;
    o.afterWrite?.(off);
  }
}

/** fsyncs the directory holding `file`, so that a rename or link of it survives a power loss. */
export async function syncDirOf(file: string): Promise<void> {
  const dir = dirOf(file);
  try {
    await io.fsyncDir(dir);
  } catch (err) {
    throw ioError('cannot fsync the directory of', file, err, ErrorCode.SYNC_FAILED);
  }
}

/** fsyncs `fd`, failing with SYNC_FAILED naming `file`. */
export async function fsyncFile(fd: number, file: string): Promise<void> {
  try {
    await io.fsync(fd);
  } catch (err) {
    throw ioError('cannot fsync', file, err, ErrorCode.SYNC_FAILED);
  }
}

export interface ReplaceSteps {
  /** Called once the rename is done, before the directory fsync. */
  renamed?: () => void;
}

/**
 * The last steps of a write-replace: puts `tmp`, whose bytes the caller made durable, in place of
 * `target` by rename(2), then fsyncs the directory. Until the directory fsync returns, a power loss
 * may still bring back the old file.
 */
export async function replaceDurably(tmp: string, target: string, steps: ReplaceSteps = {}): Promise<void> {
  try {
    await io.rename(tmp, target);
  } catch (err) {
    throw ioError('cannot rename a new version over', target, err);
  }
  steps.renamed?.();
  await syncDirOf(target);
}

/**
 * Replaces `target` with a file holding `bytes`, by write-replace: a temp in the same directory,
 * written, fsynced, renamed over `target`, and the directory fsynced. A crash leaves either the old
 * file or the new one, never a mix; a leftover temp is removed by removeStaleTemps(target).
 */
export async function writeFileDurably(target: string, bytes: Buffer): Promise<void> {
  const t = await createTemp(target, 'replace');
  let renamed = false;
  try {
    await writeAll(t.fd, bytes, 0, t.path);
    await fsyncFile(t.fd, t.path);
    await replaceDurably(t.path, target, { renamed: () => (renamed = true) });
  } finally {
    await closeTemp(t, renamed);
  }
}

/**
 * Creates `target` holding `bytes` if it does not exist, and returns false if it does. The bytes go
 * to a temp file, are fsynced, and are linked into place: link(2) fails if the name exists, so of
 * several creators exactly one wins, and the name never shows a file without its contents. The
 * directory fsync makes the new name durable.
 */
export async function createDurably(target: string, bytes: Buffer, kind: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    let t: Temp;
    try {
      t = await createTemp(target, kind);
    } catch (err) {
      // The temp's name says nothing to whoever asked for `target`: its errors name `target`.
      if (!(err instanceof JournalError) || err.cause === undefined) throw err;
      if (err.code === ErrorCode.NOT_FOUND) {
        throw new JournalError(ErrorCode.NOT_FOUND, `cannot create ${target}: its directory ${dirOf(target)} does not exist`, { path: target, cause: err.cause });
      }
      throw ioError('cannot create', target, err.cause);
    }
    let linked = false;
    try {
      await writeAll(t.fd, bytes, 0, target);
      await fsyncFile(t.fd, target);
      try {
        await io.link(t.path, target);
        linked = true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') return false;
        // A concurrent cleanup took our temp for a leftover: try again with a new one.
        if (code === 'ENOENT' && attempt < 5) continue;
        throw ioError('cannot create', target, err);
      }
    } finally {
      // The temp name goes either way: once linked, the file lives on under `target`.
      await closeTemp(t, false);
    }
    await syncDirOf(target);
    return linked;
  }
}

/** Copies `from` to `to` unless `to` exists (then false), and makes the copy and its name durable. */
export async function copyDurably(from: string, to: string): Promise<boolean> {
  try {
    await fs.promises.copyFile(from, to, fs.constants.COPYFILE_EXCL);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError('cannot copy to', to, err);
  }
  const fd = await io.open(to, fs.constants.O_RDONLY);
  try {
    await fsyncFile(fd, to);
  } finally {
    await io.close(fd);
  }
  await syncDirOf(to);
  return true;
}

/** Creates the directory `dir` if it does not exist, and makes its name durable. */
export async function makeDirDurably(dir: string): Promise<void> {
  try {
    await fs.promises.mkdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw ioError('cannot create', dir, err);
  }
  await syncDirOf(dir);
}

/** Bytes copied per read by copyRangeDurably. */
const COPY_CHUNK = 1024 * 1024;

/**
 * Copies the bytes `[from, to)` of the open file `fd` to a new file `target` (which must not
 * exist), durably: written to a temp, fsynced, linked into place, the directory fsynced.
 */
export async function copyRangeDurably(fd: number, from: number, to: number, target: string): Promise<void> {
  const t = await createTemp(target, 'copy');
  try {
    const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(1, to - from)));
    for (let pos = from; pos < to;) {
      let n: number;
      try {
        n = await io.read(fd, buf, 0, Math.min(buf.length, to - pos), pos);
      } catch (err) {
        throw ioError('cannot read what is to be copied to', target, err);
      }
      if (n === 0) throw new JournalError(ErrorCode.IO_ERROR, `cannot copy to ${target}: the file ended at offset ${pos}, before ${to}`, { path: target });
      await writeAll(t.fd, buf.subarray(0, n), pos - from, t.path);
      pos += n;
    }
    await fsyncFile(t.fd, t.path);
    try {
      await io.link(t.path, target);
    } catch (err) {
      throw ioError('cannot create', target, err);
    }
  } finally {
    await closeTemp(t, false);
  }
  await syncDirOf(target);
}
