/**
 * Where a journal's committed data ends, and its last seq: for a writer about to append, and for
 * whoever needs the last seq without reading the whole file. Only the tail a crash could have
 * touched is read (docs/design.md, "Recovery").
 */
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { decodeMarks, type Envelope } from '../format/envelope.js';
import { LF } from '../format/frame.js';
import { io } from '../fs/io.js';
import type { TornTail } from './batches.js';
import { JournalScan } from './scan.js';
import { findLine } from './seek.js';

const BACK_CHUNK = 64 * 1024;

export interface TailState {
  /** End of the last committed batch: where the next batch goes. */
  end: number;
  /** seq of the last committed record in the file (0 if none). */
  lastSeq: number;
  /** ts of the last committed record scanned (0 if none was). */
  lastTs: number;
  /** The file ends with a seal: every batch in it is vouched for. */
  sealed: boolean;
  /** Highest offset a commit mark in the scanned range vouched for. */
  synced: number;
  /** What lies after `end` and must be cut before appending, if anything. */
  torn: TornTail | null;
}

/** Catch-ups up to this size are read synchronously: they happen under the writers' lock. */
const SYNC_SCAN_MAX = 1024 * 1024;

/**
 * Validates `[from, size)`, where `from` is the end of a committed batch whose last seq is prevSeq:
 * what other writers appended since this one's last batch. A small range is read synchronously, so
 * the writers' lock is not held across trips through the threadpool.
 */
export async function scanAppended(
  fd: number, file: string, from: number, prevSeq: number, size: number, maxLineBytes: number, seals: boolean, midBatch = false,
): Promise<TailState> {
  const scan = new JournalScan(fd, { path: file, from, to: size, prevSeq, midBatch, seals, onCorrupt: 'throw', decode: 'marks', maxLineBytes });
  try {
    if (size - from <= SYNC_SCAN_MAX) while (scan.stepSync() > 0);
    else while ((await scan.step()) > 0);
  } catch (err) {
    if (err instanceof JournalError) throw err;
    throw ioError('cannot read', file, err);
  }
  const torn = scan.finish(size);
  return { end: scan.committedEnd, lastSeq: scan.lastSeq, lastTs: scan.lastTs, sealed: scan.sealed, synced: scan.synced, torn };
}

/**
 * Full recovery of a file whose record lines start at headerEnd: reads backward from the end to
 * the last intact commit line, and validates forward from the offset it vouches for as durable.
 */
export async function recoverTail(fd: number, file: string, headerEnd: number, size: number, maxLineBytes: number, seals: boolean): Promise<TailState> {
  const last = await findLastCommit(fd, file, headerEnd, size, maxLineBytes);
  if (last === null) return scanAppended(fd, file, headerEnd, 0, size, maxLineBytes, seals);
  const vouched = Math.max(headerEnd, Math.min(last.env.synced!, last.offset));
  if (vouched === headerEnd) return scanAppended(fd, file, headerEnd, 0, size, maxLineBytes, seals);
  // Start at the commit line that ends at the vouched offset: it tells the seq before the tail.
  const lineStart = await startOfLineEndingAt(fd, file, vouched, headerEnd);
  if (lineStart < 0) {
    throw new JournalError(ErrorCode.CORRUPT, `${file}: the commit mark at offset ${last.offset} vouches for offset ${vouched}, which is not the end of a line`, { path: file, offset: last.offset });
  }
  return scanAppended(fd, file, lineStart, 0, size, maxLineBytes, seals, true);
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

/** Bytes read from the end at first when looking for the last records; quadrupled until enough. */
const LAST_WINDOW = 64 * 1024;

/**
 * The seqs of the first and last of the last `n` committed records of `[headerEnd, size)` for
 * which `counts` holds (fewer if there are fewer), read from the end: a window of the file's end is
 * scanned, and widened until it holds `n` such records, so the cost grows with `n` (and with how
 * far back they lie), not with the file. null if there are none.
 */
export async function lastRecords(
  fd: number, file: string, headerEnd: number, size: number, n: number, seals: boolean, maxLineBytes: number,
  counts: (r: { seq: number; ts: number }) => boolean = () => true,
): Promise<{ firstSeq: number; lastSeq: number } | null> {
  for (let window = LAST_WINDOW; ; window *= 4) {
    let from = headerEnd;
    if (size - headerEnd > window) {
      // A record line to start at (not a seal: its batch's records would be counted short).
      const line = await findLine(fd, size - window - 1, size, maxLineBytes * 2, (env) => env.commit !== 0);
      from = line?.start ?? headerEnd;
    }
    const seqs = new Float64Array(n);
    let count = 0;
    const scan = new JournalScan(fd, {
      path: file, from, to: size, midBatch: from !== headerEnd, seals, onCorrupt: 'throw', decode: 'marks', maxLineBytes, collect: true,
    });
    try {
      while ((await scan.step()) > 0) {
        for (const r of scan.take()) if (counts(r)) seqs[count++ % n] = r.seq;
      }
      scan.finish(size);
      for (const r of scan.take()) if (counts(r)) seqs[count++ % n] = r.seq;
    } catch (err) {
      if (err instanceof JournalError) throw err;
      throw ioError('cannot read', file, err);
    }
    if (count >= n || from === headerEnd) {
      if (count === 0) return null;
      return count >= n ? { firstSeq: seqs[count % n]!, lastSeq: seqs[(count - 1) % n]! } : { firstSeq: seqs[0]!, lastSeq: seqs[count - 1]! };
    }
  }
}
