/**
 * Where a journal's committed data ends, and its last seq: for a writer about to append, and for
 * whoever needs the last seq without reading the whole file. Only the tail a crash could have
 * touched is read (docs/design.md, "Recovery").
 */
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { decodeMarks, type Envelope } from '../format/envelope.js';
import { LF } from '../format/frame.js';
import { io } from '../fs/io.js';
import type { ScannedRecord, TornTail } from './batches.js';
import { JournalScan } from './scan.js';
import { findLine, seekSeq, seekTs } from './seek.js';

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
 * The seqs and times a read of the last records is limited to. Seqs rise through the file, and in
 * format version 2 so do times: so the records past the upper bounds are a suffix of the file, and
 * those before the lower bounds a prefix.
 */
export interface TailBounds {
  fromSeq: number;
  untilSeq: number;
  fromTs: number;
  untilTs: number;
}

const UNBOUNDED: TailBounds = { fromSeq: 1, untilSeq: Number.POSITIVE_INFINITY, fromTs: Number.NEGATIVE_INFINITY, untilTs: Number.POSITIVE_INFINITY };

/**
 * The seqs of the first and last of the last `n` committed records of `[headerEnd, size)` within
 * `bounds` (fewer if there are fewer), read from the end of those bounds: a window ending where the
 * records past the upper bounds begin (found by bisection) is scanned, and widened until it holds
 * `n` such records or starts before the lower bounds. So the cost grows with `n`, not with the file
 * or with how far back the bounds lie. `v2`: the file is format version 2 (seals, and times that
 * never go back). null if there are none.
 */
export async function lastRecords(
  fd: number, file: string, headerEnd: number, size: number, n: number, v2: boolean, maxLineBytes: number,
  bounds: TailBounds = UNBOUNDED, skipDamage = false,
): Promise<{ firstSeq: number; lastSeq: number } | null> {
  const past = (r: { seq: number; ts: number }) => r.seq > bounds.untilSeq || (v2 && r.ts > bounds.untilTs);
  const before = (r: { seq: number; ts: number }) => r.seq < bounds.fromSeq || (v2 && r.ts < bounds.fromTs);
  const counts = (r: { seq: number; ts: number }) => r.seq >= bounds.fromSeq && r.seq <= bounds.untilSeq && r.ts >= bounds.fromTs && r.ts <= bounds.untilTs;
  // A line start at or before the first record past the upper bounds: no record in them starts after it.
  let anchor = size;
  if (Number.isFinite(bounds.untilSeq)) anchor = Math.min(anchor, await seekSeq(fd, headerEnd, size, bounds.untilSeq + 1, maxLineBytes));
  if (v2 && Number.isFinite(bounds.untilTs)) anchor = Math.min(anchor, await seekTs(fd, headerEnd, size, Math.floor(bounds.untilTs) + 1, maxLineBytes));
  for (let window = LAST_WINDOW; ; window *= 4) {
    let from = headerEnd;
    if (anchor - headerEnd > window) {
      // A record line to start at (not a seal: its batch's records would be counted short).
      const line = await findLine(fd, anchor - window - 1, size, maxLineBytes * 2, (env) => env.commit !== 0);
      from = line?.start ?? headerEnd;
    }
    // The seqs of the last n records that count, as a ring; it grows only as far as records are found.
    const seqs: number[] = [];
    let count = 0;
    /** Whether the window's first record lies before the lower bounds: a wider one finds no more. */
    let startsBefore = false;
    let first = true;
    const scan = new JournalScan(fd, {
      // Skipping damage, as a reader with corrupt: 'skip' does, the intact records around it count.
      path: file, from, to: size, midBatch: from !== headerEnd, seals: v2, onCorrupt: skipDamage ? 'report' : 'throw', decode: 'marks', maxLineBytes, collect: true,
    });
    /** Counts a chunk's records; true once one is past the upper bounds, so that none after it can count. */
    const tally = (records: ScannedRecord[]): boolean => {
      for (const r of records) {
        if (first) {
          startsBefore = before(r);
          first = false;
        }
        if (past(r)) return true;
        if (!counts(r)) continue;
        if (count < n) seqs.push(r.seq);
        else seqs[count % n] = r.seq;
        count++;
      }
      return false;
    };
    try {
      let ended = false;
      while (!ended && (await scan.step()) > 0) ended = tally(scan.take());
      if (!ended) {
        scan.finish(size);
        tally(scan.take());
      }
    } catch (err) {
      if (err instanceof JournalError) throw err;
      throw ioError('cannot read', file, err);
    }
    if (count >= n || from === headerEnd || startsBefore) {
      if (count === 0) return null;
      return count >= n ? { firstSeq: seqs[count % n]!, lastSeq: seqs[(count - 1) % n]! } : { firstSeq: seqs[0]!, lastSeq: seqs[count - 1]! };
    }
  }
}
