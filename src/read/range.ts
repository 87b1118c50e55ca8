/** Where a read starts and stops, by seq, by time, or the last N records: the options readJournal and follow share. */
import { isVersion2, type Header } from '../format/header.js';
import { JournalScan } from '../scan/scan.js';
import { seekSeq, seekTs } from '../scan/seek.js';
import { lastRecords } from '../scan/tail.js';

/** A time option: ms since the epoch, or a Date. */
export type TimeOption = number | Date;

/** The time option as ms since the epoch (undefined when absent); a RangeError names a bad one. */
export function msOf(name: string, t: TimeOption | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : t;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new RangeError(`${name} must be a Date or a number of ms since the epoch`);
  return ms;
}

/** A positive integer option (undefined when absent). */
export function positiveInt(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw new RangeError(`${name} must be a positive integer`);
  return v as number;
}

/** A count option: 0 or a positive integer (undefined when absent). */
export function countOption(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new RangeError(`${name} must be 0 or a positive integer`);
  return v as number;
}

/** What to hand out: records with seq in [fromSeq, untilSeq] and ts in [fromTs, untilTs]. */
export interface Range {
  fromSeq: number;
  untilSeq: number;
  fromTs: number;
  untilTs: number;
}

/**
 * Where to start reading a range in a journal file: a line start at or before its first record,
 * found by bisection (on seqs; on timestamps too in format version 2, where they never go back).
 * With `last`, the range is first narrowed to the last `last` records, read from the end.
 */
export async function startOf(
  fd: number, path: string, header: Header, headerEnd: number, size: number, range: Range, last: number | undefined, maxLineBytes: number,
  skipDamage = false,
): Promise<number> {
  // The last 0 records: none, as tail -n 0 prints no line.
  if (last === 0) return size;
  if (last !== undefined) {
    const tail = await lastRecords(fd, path, headerEnd, size, last, isVersion2(header), maxLineBytes, range, skipDamage);
    if (tail === null) return size;
    range.fromSeq = Math.max(range.fromSeq, tail.firstSeq);
    range.untilSeq = Math.min(range.untilSeq, tail.lastSeq);
  }
  let start = headerEnd;
  if (range.fromSeq > 1) start = await seekSeq(fd, headerEnd, size, range.fromSeq, maxLineBytes);
  if (Number.isFinite(range.fromTs) && isVersion2(header)) start = Math.max(start, await seekTs(fd, headerEnd, size, range.fromTs, maxLineBytes));
  return start;
}

/** Whether a record is in the range. */
export function inRange(r: { seq: number; ts: number }, range: Range): boolean {
  return r.seq >= range.fromSeq && r.seq <= range.untilSeq && r.ts >= range.fromTs && r.ts <= range.untilTs;
}

/**
 * Whether no record after `r` can be in the range: past untilSeq, or (format version 2, where
 * timestamps never go back) past untilTs.
 */
export function pastRange(r: { seq: number; ts: number }, range: Range, v2: boolean): boolean {
  return r.seq > range.untilSeq || (v2 && r.ts > range.untilTs);
}

/**
 * The seq of the first record in the range at or after the line `start` (see startOf), or null if
 * there is none before `size`: what retention by time needs to know where it stops.
 */
export async function firstSeqIn(
  fd: number, path: string, header: Header, headerEnd: number, size: number, range: Range, maxLineBytes: number,
): Promise<number | null> {
  const start = await startOf(fd, path, header, headerEnd, size, range, undefined, maxLineBytes);
  const scan = new JournalScan(fd, {
    path, from: start, to: size, midBatch: start !== headerEnd, seals: isVersion2(header), onCorrupt: 'throw', decode: 'marks', collect: true, maxLineBytes,
  });
  for (;;) {
    const n = await scan.step();
    if (n === 0) scan.finish(size);
    for (const r of scan.take()) if (inRange(r, range)) return r.seq;
    if (n === 0) return null;
  }
}
