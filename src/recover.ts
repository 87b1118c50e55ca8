/**
 * Finding where a journal's committed data ends, for a writer about to append.
 *
 * A full recovery (at open, or when the file changed under the writer in a way it cannot follow)
 * reads backward from the end to the last intact commit line, takes the durable offset it vouches
 * for, and validates forward from there. Everything before that offset was durable and is not read:
 * opening a multi-GB journal reads only the tail a crash could have touched.
 *
 * An incremental scan (a writer that finds the file grew since its own last batch) validates only
 * the new bytes.
 */
import { ErrorCode, JournalError, ioError } from './errors.js';
import { decodeMarks, type Envelope } from './format.js';
import { io } from './io.js';
import { LineFeeder } from './lines.js';
import { BatchScanner, type TornTail } from './scan.js';

const BACK_CHUNK = 64 * 1024;
const FORWARD_CHUNK = 256 * 1024;
const LF = 0x0a;

export interface TailState {
  /** End of the last committed batch: where the next batch goes. */
  end: number;
  /** seq of the last committed record in the file (0 if none). */
  lastSeq: number;
  /** Highest offset a commit mark in the scanned range vouched for. */
  synced: number;
  /** What lies after `end` and must be cut before appending, if anything. */
  torn: TornTail | null;
}

/** Catch-ups up to this size are read synchronously: they happen under the writers' lock. */
const SYNC_SCAN_MAX = 1024 * 1024;

/**
 * Validates `[from, size)`, where `from` is the end of a committed batch whose last seq is prevSeq.
 * A small range (what other writers appended since this one's last batch) is read synchronously,
 * so the lock is not held across trips through the threadpool.
 */
export async function scanFrom(
  fd: number, file: string, from: number, prevSeq: number, size: number, maxLineBytes: number, midBatch = false,
): Promise<TailState> {
  const scanner = new BatchScanner(from, { path: file, prevSeq, onCorrupt: 'throw', collect: false, midBatch });
  const feeder = new LineFeeder(fd, from, FORWARD_CHUNK, maxLineBytes, { marksOnly: true });
  try {
    if (size - from <= SYNC_SCAN_MAX) while (feeder.stepSync(scanner, size) > 0);
    else while ((await feeder.step(scanner, size)) > 0);
  } catch (err) {
    if (err instanceof JournalError) throw err;
    throw ioError('cannot read', file, err);
  }
  const torn = scanner.finish(size);
  return { end: scanner.committedEnd, lastSeq: scanner.lastSeq, synced: scanner.synced, torn };
}

/** Full recovery of a file whose record lines start at headerEnd. */
export async function scanTail(fd: number, file: string, headerEnd: number, size: number, maxLineBytes: number): Promise<TailState> {
  const last = await findLastCommit(fd, file, headerEnd, size, maxLineBytes);
  if (last === null) return scanFrom(fd, file, headerEnd, 0, size, maxLineBytes);
  const vouched = Math.max(headerEnd, Math.min(last.env.synced!, last.offset));
  if (vouched === headerEnd) return scanFrom(fd, file, headerEnd, 0, size, maxLineBytes);
  // Start at the commit line that ends at the vouched offset: it tells the seq before the tail.
  const lineStart = await startOfLineEndingAt(fd, file, vouched, headerEnd);
  if (lineStart < 0) {
    throw new JournalError(ErrorCode.CORRUPT, `${file}: the commit mark at offset ${last.offset} vouches for offset ${vouched}, which is not the end of a line`, { path: file, offset: last.offset });
  }
  return scanFrom(fd, file, lineStart, 0, size, maxLineBytes, true);
}

interface FoundLine {
  offset: number;
  env: Envelope;
}

/** The last intact commit line in `[from, size)`, read backward in chunks; null if there is none. */
async function findLastCommit(fd: number, file: string, from: number, size: number, maxLineBytes: number): Promise<FoundLine | null> {
  const buf = Buffer.allocUnsafe(BACK_CHUNK);
  let hi = size;
  /** Offset of the LF ending the line whose start is being looked for (-1 before the last LF). */
  let lineEnd = -1;
  while (hi > from) {
    const lo = Math.max(from, hi - BACK_CHUNK);
    await readExactly(fd, file, buf, hi - lo, lo);
    let j = hi - lo;
    for (;;) {
      const lf = j > 0 ? buf.lastIndexOf(LF, j - 1) : -1;
      const lineStart = lf < 0 ? lo : lo + lf + 1;
      if (lf < 0 && lo > from) break; // the line starts in an earlier chunk
      if (lineEnd >= 0) {
        const found = await checkLine(fd, file, buf, lo, hi, lineStart, lineEnd, maxLineBytes);
        if (found !== null) return found;
      }
      if (lf < 0) break;
      lineEnd = lo + lf;
      j = lf;
    }
    hi = lo;
  }
  return null;
}

async function checkLine(
  fd: number, file: string, buf: Buffer, lo: number, hi: number, start: number, lf: number, maxLineBytes: number,
): Promise<FoundLine | null> {
  if (lf - start > maxLineBytes) return null;
  let decoded;
  if (lf < hi) {
    decoded = decodeMarks(buf, start - lo, lf - lo);
  } else {
    const line = Buffer.allocUnsafe(lf - start);
    await readExactly(fd, file, line, line.length, start);
    decoded = decodeMarks(line, 0, line.length);
  }
  return typeof decoded !== 'string' && decoded.commit !== undefined ? { offset: start, env: decoded } : null;
}

/** Start offset of the line whose LF is at `end - 1`, or -1 if byte `end - 1` is not an LF. */
async function startOfLineEndingAt(fd: number, file: string, end: number, from: number): Promise<number> {
  const one = Buffer.allocUnsafe(1);
  await readExactly(fd, file, one, 1, end - 1);
  if (one[0] !== LF) return -1;
  const buf = Buffer.allocUnsafe(BACK_CHUNK);
  let hi = end - 1;
  while (hi > from) {
    const lo = Math.max(from, hi - BACK_CHUNK);
    await readExactly(fd, file, buf, hi - lo, lo);
    const lf = buf.lastIndexOf(LF, hi - lo - 1);
    if (lf >= 0) return lo + lf + 1;
    hi = lo;
  }
  return from;
}

async function readExactly(fd: number, file: string, buf: Buffer, len: number, pos: number): Promise<void> {
  let off = 0;
  while (off < len) {
    let n: number;
    try {
      n = await io.read(fd, buf, off, len - off, pos + off);
    } catch (err) {
      throw ioError('cannot read', file, err);
    }
    if (n === 0) throw new JournalError(ErrorCode.IO_ERROR, `${file}: file ended early while reading at offset ${pos + off}`, { path: file, offset: pos + off });
    off += n;
  }
}
