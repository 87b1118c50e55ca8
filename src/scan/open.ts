/** Opening a journal file: the fd, and its header checked, which says where the record lines start. */
import fs from 'node:fs';
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { decodeHeader, type Header } from '../format/header.js';
import { MAX_HEADER_BYTES } from '../format/limits.js';
import { io } from '../fs/io.js';

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
    if (n === 0 || have >= MAX_HEADER_BYTES) {
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
