/**
 * Compaction: rewrites a journal through a retention policy into a new file and swaps it in by
 * write-replace, while writers, readers and followers go on (docs/design.md, "Compaction").
 */
import { ErrorCode, JournalError, ioError, typed } from '../errors.js';
import { recommitLine } from '../format/envelope.js';
import { LF } from '../format/frame.js';
import { isVersion2, type Header } from '../format/header.js';
import { MAX_LINE_BYTES } from '../format/limits.js';
import { copyRangeDurably, replaceDurably } from '../fs/durable.js';
import { io } from '../fs/io.js';
import { killPoint } from '../fs/kill-points.js';
import { abortError, FileLock } from '../fs/lock.js';
import { removeStaleTemps } from '../fs/temps.js';
import { consumersForRetention, floorOf, type ConsumerState } from '../positions/retention.js';
import type { JournalRecord } from '../read/reader.js';
import type { Damage, ScannedRecord, TornTail } from '../scan/batches.js';
import { openJournalFile } from '../scan/open.js';
import { JournalScan } from '../scan/scan.js';
import { recoverTail } from '../scan/tail.js';
import { firstSeqIn, msOf, positiveInt } from '../read/range.js';
import { SEAL_TAIL_BYTES } from '../format/seal.js';
import { findLine } from '../scan/seek.js';
import { saveCut } from '../write/cuts.js';
import { setRetentionRunner } from '../write/retention.js';
import type { RecoveredTail } from '../write/recovery.js';
import { takeCompactionLock } from './lock.js';
import { CompactionOutput } from './output.js';

/** `T`: the type of the journal's records' data, which `keep` and `key` are given. */
export interface CompactOptions<T = unknown> {
  /** Drop the records for which this returns false. */
  keep?: (rec: JournalRecord<T>) => boolean;
  /**
   * Keep only the latest record of each key, as a Kafka compacted topic does (records for which it
   * returns undefined have no key and are kept). A key's latest record is kept however old it is,
   * unless it is a tombstone (data `{"$tombstone": true, ...}`) older than `beforeSeq`: then the key
   * is gone. Until then the tombstone stays, so that followers still see the delete.
   */
  key?: (rec: JournalRecord<T>) => string | undefined;
  /**
   * Retention: drop the records with a seq below this, e.g. once every consumer is past it. With
   * `key`, it drops superseded records, unkeyed records and tombstones below it, but never a key's
   * live latest value.
   */
  beforeSeq?: number;
  /**
   * Retention by age: drop the records before the first one appended at or after this time (ms
   * since the epoch, or a Date), as `beforeSeq` would with that record's seq. In a version 2
   * journal, where timestamps never go back, that is every record older than it.
   */
  beforeTs?: number | Date;
  /**
   * Retention by size: keep the newest records that fit in a file of this many bytes (with `key`,
   * a key's live latest value is kept however old, and the file may be larger). Records appended
   * while the compaction runs are kept too.
   */
  maxBytes?: number;
  /**
   * Remove nothing that a named consumer (see Consumer) has not committed yet, unless it expired:
   * records from the lowest such position + 1 on are kept whatever the policy, and `beforeSeq` stops
   * there. With false the policy applies to them too; either way the result's `consumers` says what
   * each consumer was spared or lost.
   * @default true
   */
  retainForConsumers?: boolean;
  /** Aborting before the swap leaves the journal untouched and no temp file behind. */
  signal?: AbortSignal;
  onProgress?: (p: CompactProgress) => void;
  /** Wait for a running compaction to finish instead of failing with COMPACTING. @default false */
  wait?: boolean;
  /** How long the compaction may wait for the writers' lock. @default 30000 */
  lockTimeoutMs?: number;
}

export interface CompactProgress {
  /** 'check': repair's check of the journal before it rewrites it. */
  phase: 'check' | 'index' | 'copy' | 'swap';
  bytesRead: number;
  bytesTotal: number;
  recordsWritten: number;
}

export interface CompactResult {
  recordsBefore: number;
  recordsAfter: number;
  bytesBefore: number;
  bytesAfter: number;
  ms: number;
  /** How long appends were held back by the swap, in ms. */
  stallMs: number;
  /** The new file's header generation. */
  generation: number;
  /** The new file's format version: a version 1 journal becomes version 2 when its timestamps never go back. */
  version: number;
  /** A torn tail the old file ended with, left out of the new one, and where its bytes were saved; or null. */
  cut: RecoveredTail | null;
  /** Each named consumer the policy touched, with what was kept for it or removed from under it. */
  consumers: CompactConsumerReport[];
}

/** What a compaction did to one named consumer: records after its position it kept for it, or removed. */
export interface CompactConsumerReport {
  name: string;
  /** Its committed seq. */
  seq: number;
  /** It had expired (see Consumer's expireAfterMs), so nothing was kept for it. */
  expired: boolean;
  /** Records after its position that the policy would have removed, kept because it has not read them. */
  kept: number;
  /** Records after its position that were removed: it will never read them (left behind). */
  removed: number;
  /** Retention removed the record it reads next: reading on fails with POSITION_GONE (see follow's onPositionGone). */
  positionGone: boolean;
}

/** Whether a record's data is a tombstone: it deletes its key under key compaction. */
export function isTombstone(data: unknown): boolean {
  return typeof data === 'object' && data !== null && (data as Record<string, unknown>).$tombstone === true;
}

// Writers with a retention policy run compactions through this (the writer's floor is below this one).
setRetentionRunner((path, policy, signal) => compact(path, { ...policy, signal }));

/** Catching up without the writers' lock stops once less than this is left to copy. */
const SWAP_TAIL_BYTES = 256 * 1024;
const CATCH_UP_ROUNDS = 4;

/**
 * Rewrites the journal at `path` keeping what the policy keeps, and swaps it in crash-safely while
 * writers, readers and followers go on. Only one compaction of a journal runs at a time.
 */
export async function compact<T = unknown>(file: string, opts: CompactOptions<T> = {}): Promise<CompactResult> {
  if (opts.beforeSeq !== undefined && !(Number.isSafeInteger(opts.beforeSeq) && opts.beforeSeq >= 1)) {
    throw new RangeError('beforeSeq must be a positive integer');
  }
  msOf('beforeTs', opts.beforeTs);
  positiveInt('maxBytes', opts.maxBytes);
  // keep and key take the records as the caller's T: the caller's word, which nothing checks.
  const { result } = await rewrite(file, opts as CompactOptions, {});
  return result;
}

/** What kind of rewrite: a compaction by default. */
export interface RewriteMode {
  /** repair(): damage before durable data does not stop it: the damaged lines are left out and reported. */
  salvage?: boolean;
  /**
   * truncate(): keep the records up to this seq and no later one, holding the writers' lock
   * throughout, so that the file ends there; seqs after it are assigned again.
   */
  truncateAfter?: { seq?: number; ts?: number };
}

export interface Truncation {
  lastSeq: number;
  offset: number | null;
  savedTo: string | null;
}

export interface RewriteResult {
  result: CompactResult;
  /** With salvage: the damaged lines left out. */
  dropped: Damage[];
  tornTail: TornTail | null;
  /** With truncateAfter: the last seq kept, the offset of the first record dropped (null if none was), and where the dropped bytes were kept. */
  truncatedAt: Truncation | null;
}

/** The rewrite behind compact(), repair() and truncate(). */
export async function rewrite(file: string, opts: CompactOptions, mode: RewriteMode): Promise<RewriteResult> {
  if (typeof file !== 'string' || file === '') throw new TypeError('path must be a non-empty string');
  const t0 = performance.now();
  try {
    const release = await takeCompactionLock(file, opts);
    try {
      await removeStaleTemps(file);
      const c = new Compaction(file, opts, mode);
      const result = await c.run(t0);
      return { result, dropped: c.dropped, tornTail: c.tornTail, truncatedAt: c.truncatedAt };
    } finally {
      await release();
    }
  } catch (err) {
    throw typed(err, 'cannot compact', file);
  }
}

class Compaction {
  readonly #file: string;
  readonly #opts: CompactOptions;
  readonly #lockTimeout: number;
  /** The new file, once created. */
  #out: CompactionOutput | null = null;
  #recordsBefore = 0;
  #recordsAfter = 0;
  /** key -> seq of the key's latest record, from the first pass (only with `key`). */
  #latest: Map<string, number> | null = null;
  /** With retainForConsumers: the lowest seq a consumer still needs. */
  #floor = Number.POSITIVE_INFINITY;
  /** Retention: records below this seq go (beforeSeq, beforeTs and maxBytes, whichever reaches furthest); 1 keeps all. */
  #retainFrom = 1;
  /** The consumers and what the policy removed after their positions (only when a policy can remove records). */
  #consumers: ConsumerTally | null = null;
  readonly #salvage: boolean;
  #headerEnd = 0;
  /** Whether the journal has seals (format version 2): they are not copied, the new file gets its own. */
  #seals = false;
  /** A record's timestamp was lower than the one before it (only ever in a version 1 journal). */
  #tsBackwards = false;
  /** The last record's timestamp in the scans so far. */
  #lastTs = 0;
  /** With salvage: the damaged lines left out. */
  readonly dropped: Damage[] = [];
  /** The torn tail the rewrite did not carry over, if any. */
  tornTail: TornTail | null = null;
  /** With truncateAfter: the point, resolved to a seq (and a ts to a seq) before the copy. */
  readonly #truncate: { seq?: number; ts?: number } | null;
  /** With truncateAfter: what was kept and where dropping began. */
  truncatedAt: Truncation | null = null;

  constructor(file: string, opts: CompactOptions, mode: RewriteMode) {
    this.#file = file;
    this.#opts = opts;
    this.#salvage = mode.salvage === true;
    this.#truncate = mode.truncateAfter ?? null;
    this.#lockTimeout = opts.lockTimeoutMs ?? 30_000;
  }

  async run(t0: number): Promise<CompactResult> {
    const { fd, header, headerEnd } = await openJournalFile(this.#file, 'r');
    this.#headerEnd = headerEnd;
    // Before any scan: the key index reads the same lines as the copy.
    this.#seals = isVersion2(header);
    const oldLock = new FileLock(fd, this.#file);
    let renamed = false;
    let cut: RecoveredTail | null = null;
    try {
      // Where the committed data ends now, and its last seq, read under the writers' lock so that a
      // writer cutting a torn tail cannot change the bytes being read. A truncation keeps the lock
      // to the end: nothing may be appended after the point while it runs.
      const hold = this.#truncate !== null;
      await oldLock.acquire(this.#lockTimeout, this.#opts.signal);
      let snap;
      try {
        const size = io.fstatSync(fd).size;
        snap = { size, ...(await recoverTail(fd, this.#file, headerEnd, size, MAX_LINE_BYTES, isVersion2(header)).catch((err) => {
          // A salvage reads the whole file anyway, so damage that keeps the tail from being found is no obstacle.
          if (this.#salvage && err instanceof JournalError && err.code === ErrorCode.CORRUPT) return { end: size, lastSeq: 0 };
          throw err;
        })) };
      } finally {
        if (!hold) oldLock.release();
      }
      if (this.#truncate !== null) {
        this.truncatedAt = { lastSeq: await this.#truncationPoint(fd, header, headerEnd, snap.end, snap.lastSeq), offset: null, savedTo: null };
        // Nothing after the point: the journal is left as it is.
        if (this.truncatedAt.lastSeq >= snap.lastSeq) {
          return { recordsBefore: 0, recordsAfter: 0, bytesBefore: snap.size, bytesAfter: snap.size, ms: performance.now() - t0, stallMs: 0, generation: header.generation, version: header.version, cut: null, consumers: [] };
        }
      }
      const o = this.#opts;
      if (!this.#salvage && this.#truncate === null && (o.keep !== undefined || o.key !== undefined || o.beforeSeq !== undefined || o.beforeTs !== undefined || o.maxBytes !== undefined)) {
        const consumers = await consumersForRetention(this.#file);
        if (o.retainForConsumers ?? true) this.#floor = floorOf(consumers) ?? Number.POSITIVE_INFINITY;
        if (consumers.length > 0) this.#consumers = new ConsumerTally(consumers);
      }
      this.#retainFrom = await this.#retention(fd, header, headerEnd, snap.end, snap.lastSeq);
      if (this.#opts.key) this.#latest = await this.#index(fd, headerEnd, snap.end);
      const newHeader: Header = {
        ...header,
        generation: header.generation + 1,
        // Records appended from here on are copied, so they carry their seqs into the new file. A
        // truncation ends the journal at its point, and the seqs after it are assigned again.
        maxSeq: this.truncatedAt !== null ? this.truncatedAt.lastSeq : Math.max(header.maxSeq, snap.lastSeq),
        // Followers and consumers positioned below this learn that retention removed their records.
        minSeq: Math.max(header.minSeq, Math.min(this.#retainFrom, this.#floor)),
      };
      const out = this.#out = await CompactionOutput.create(this.#file, newHeader);
      killPoint('compact-temp-created');
      let { end, lastSeq } = await this.#copy(fd, headerEnd, snap.end, 0, 'copy', false);
      for (let round = 0; round < CATCH_UP_ROUNDS && !hold; round++) {
        const size = io.fstatSync(fd).size;
        if (size - end < SWAP_TAIL_BYTES) break;
        ({ end, lastSeq } = await this.#copy(fd, end, size, lastSeq, 'copy', true));
      }
      killPoint('compact-temp-written');
      // Flush the bulk now, so that the fsync under the writers' lock has only the tail left.
      await out.sync();
      this.#checkAbort();

      if (!hold) await oldLock.acquire(this.#lockTimeout, this.#opts.signal);
      const stallStart = performance.now();
      this.#opts.onProgress?.({ phase: 'swap', bytesRead: end, bytesTotal: io.fstatSync(fd).size, recordsWritten: this.#recordsAfter });
      try {
        const mine = io.fstatSync(fd);
        const current = io.statSync(this.#file);
        if (current === null || current.ino !== mine.ino || current.dev !== mine.dev) {
          throw new JournalError(ErrorCode.COMPACTING, `${this.#file} was replaced during the compaction`, { path: this.#file });
        }
        await this.#copy(fd, end, mine.size, lastSeq, 'swap', true);
        const torn = this.tornTail;
        if (torn !== null) cut = { ...torn, savedTo: await saveCut(this.#file, fd, torn.offset, torn.offset + torn.bytes) };
        const t = this.truncatedAt;
        if (t !== null && t.offset !== null) t.savedTo = await keepDropped(this.#file, fd, t.offset, torn === null ? mine.size : torn.offset);
        // A version 1 journal whose timestamps never went back can have what version 2 promises.
        if (!isVersion2(header) && !this.#tsBackwards) newHeader.version = 2;
        await out.finish(newHeader);
        killPoint('compact-temp-synced');
        this.#checkAbort();
        // Both locks are held until the rename is durable: a writer reaching the new file can
        // acknowledge nothing before a power loss could no longer bring back the old one.
        await replaceDurably(out.path, this.#file, {
          renamed: () => {
            renamed = true;
            killPoint('compact-renamed');
          },
        });
        killPoint('compact-dir-synced');
      } finally {
        try {
          oldLock.release();
        } finally {
          out.releaseLock();
        }
      }
      return {
        recordsBefore: this.#recordsBefore,
        recordsAfter: this.#recordsAfter,
        bytesBefore: snap.size,
        bytesAfter: out.pos,
        ms: performance.now() - t0,
        stallMs: performance.now() - stallStart,
        generation: newHeader.generation,
        version: newHeader.version,
        cut,
        consumers: this.#consumers?.report(this.#floor, newHeader.minSeq) ?? [],
      };
    } finally {
      await oldLock.closeWhenSettled(() => io.close(fd)).catch(() => {});
      await this.#out?.close(renamed);
    }
  }

  /** First pass for key compaction: the seq of each key's latest record. */
  async #index(fd: number, from: number, to: number): Promise<Map<string, number>> {
    const latest = new Map<string, number>();
    const key = this.#opts.key!;
    await this.#scan(fd, from, to, 0, 'index', true, (records) => {
      for (const rec of records) {
        const k = key(rec);
        if (k !== undefined) latest.set(k, rec.seq);
      }
    });
    return latest;
  }

  /**
   * Copies the committed batches of `[from, to)` into the temp file: the lines the policy keeps go
   * byte for byte, and each batch's last kept line is re-committed (new count, new `synced`).
   * `verbatim` (for records appended while the compaction runs) skips the policy: the next
   * compaction applies it. Records' data is parsed only when a policy callback needs it.
   */
  async #copy(fd: number, from: number, to: number, prevSeq: number, phase: CompactProgress['phase'], verbatim: boolean) {
    const o = this.#opts;
    const out = this.#out!;
    if (!this.#salvage && this.#truncate === null && (verbatim || (o.keep === undefined && o.key === undefined && this.#retainFrom <= 1))) {
      // Nothing can be dropped, so every committed batch is copied whole: its lines byte for byte,
      // its last line re-committed. The lines go out as they are read, before their batch commits,
      // so no batch is held in memory and the reads can run ahead; what a batch that never commits
      // (a torn tail) put out is taken back. Damage never gets that far: it throws CORRUPT.
      const done = await this.#scan(fd, from, to, prevSeq, phase, false, null);
      out.takeBackUnfinished();
      await out.drain();
      return done;
    }
    const parse = !verbatim && (o.keep !== undefined || o.key !== undefined);
    const done = await this.#scan(fd, from, to, prevSeq, phase, parse, (recs, batchEnd, view) => {
      if (recs.length === 0) return; // a seal
      const endOf = (i: number) => (i + 1 < recs.length ? recs[i + 1]!.offset : batchEnd);
      this.#recordsBefore += recs.length;
      if (this.#salvage && !recs.every((r, i) => lineEnd(view, r.offset, batchEnd) === endOf(i))) {
        // Damaged lines lie between these records: each goes out as a batch of its own, its line
        // copied byte for byte (data exactly as written) with a commit mark of its own.
        for (const r of recs) {
          out.emit(recommitLine(view(r.offset, lineEnd(view, r.offset, batchEnd)), 1, out.batchStart));
          out.endBatch();
        }
        this.#recordsAfter += recs.length;
        return;
      }
      let kept = 0;
      let last = -1;
      let runStart = -1;
      let runEnd = -1;
      for (let i = 0; i < recs.length; i++) {
        if (!verbatim && !this.#keeps(recs[i]!)) continue;
        if (last >= 0) {
          // The previously kept line is not the batch's last: it is copied byte for byte, in a run
          // with its kept neighbours.
          const start = recs[last]!.offset;
          if (start !== runEnd) {
            if (runStart >= 0) out.emit(view(runStart, runEnd));
            runStart = start;
          }
          runEnd = endOf(last);
        }
        last = i;
        kept++;
      }
      if (last < 0) return;
      if (runStart >= 0) out.emit(view(runStart, runEnd));
      out.emit(recommitLine(view(recs[last]!.offset, endOf(last)), kept, out.batchStart));
      this.#recordsAfter += kept;
      out.endBatch();
    });
    await out.drain();
    return done;
  }

  /**
   * The seq below which retention drops records: beforeSeq; the first record appended at or after
   * beforeTs; the first of the newest records that fit in maxBytes. Whichever reaches furthest.
   */
  async #retention(fd: number, header: Header, headerEnd: number, end: number, lastSeq: number): Promise<number> {
    const o = this.#opts;
    let from = o.beforeSeq ?? 1;
    const beforeTs = msOf('beforeTs', o.beforeTs);
    if (beforeTs !== undefined) {
      const range = { fromSeq: 1, untilSeq: Number.POSITIVE_INFINITY, fromTs: beforeTs, untilTs: Number.POSITIVE_INFINITY };
      from = Math.max(from, (await firstSeqIn(fd, this.#file, header, headerEnd, end, range, MAX_LINE_BYTES)) ?? lastSeq + 1);
    }
    if (o.maxBytes !== undefined) {
      // Kept lines are copied as they are, or shorter (a re-committed last line of a batch); the
      // header may grow by a few digits, and a seal ends the file.
      const room = o.maxBytes - (headerEnd + 16) - SEAL_TAIL_BYTES;
      const line = room <= 0 ? null : await findLine(fd, Math.max(headerEnd, end - room) - 1, end, MAX_LINE_BYTES * 2, (env) => env.commit !== 0);
      from = Math.max(from, line?.seq ?? lastSeq + 1);
    }
    return from;
  }

  /** The last seq a truncation keeps: its seq, or the last record appended at or before its ts. */
  async #truncationPoint(fd: number, header: Header, headerEnd: number, end: number, lastSeq: number): Promise<number> {
    const t = this.#truncate!;
    let last = Math.min(lastSeq, t.seq ?? lastSeq);
    if (t.ts !== undefined) {
      const range = { fromSeq: 1, untilSeq: Number.POSITIVE_INFINITY, fromTs: t.ts + 1, untilTs: Number.POSITIVE_INFINITY };
      const after = await firstSeqIn(fd, this.#file, header, headerEnd, end, range, MAX_LINE_BYTES);
      if (after !== null) last = Math.min(last, after - 1);
    }
    return last;
  }

  #keeps(rec: JournalRecord): boolean {
    if (this.truncatedAt !== null) {
      if (rec.seq <= this.truncatedAt.lastSeq) return true;
      this.truncatedAt.offset ??= rec.offset;
      return false;
    }
    if (this.#policyKeeps(rec)) return true;
    this.#consumers?.dropped(rec.seq, rec.seq >= this.#floor);
    return rec.seq >= this.#floor;
  }

  /** Whether the policy alone keeps `rec`. */
  #policyKeeps(rec: JournalRecord): boolean {
    const { keep, key } = this.#opts;
    if (keep && !keep(rec)) return false;
    const old = rec.seq < this.#retainFrom;
    if (this.#latest === null) return !old;
    const k = key!(rec);
    if (k === undefined) return !old;
    if (this.#latest.get(k) !== rec.seq) return false;
    return !(old && isTombstone(rec.data));
  }

  /**
   * Reads the committed batches of `[from, to)` chunk by chunk and hands each to `each` as it
   * commits, with a view of the file's bytes that is valid only during the call. Without `each`,
   * copies every batch whole (see #copy).
   */
  async #scan(
    fd: number, from: number, to: number, prevSeq: number, phase: CompactProgress['phase'], parse: boolean,
    each: ((records: ScannedRecord[], end: number, view: (start: number, end: number) => Buffer) => void) | null,
  ): Promise<{ end: number; lastSeq: number }> {
    // Null in the index pass, which puts nothing out.
    const out = this.#out;
    const view = (start: number, end: number) => scan.view(start, end);
    /** Without `each` (whole batches): the input offset up to which lines have been put out. */
    let emitted = from;
    const scan: JournalScan = new JournalScan(fd, {
      path: this.#file, from, to, prevSeq, prevTs: this.#lastTs, seals: this.#seals, firstLine: from === this.#headerEnd ? 2 : null,
      onCorrupt: this.#salvage ? 'report' : 'throw', decode: parse ? 'data' : 'marks', collect: each !== null, readAhead: true,
      ...(each !== null
        ? { retainBatch: true, onBatch: (records, end) => each(records, end, view) }
        : {
          onBatch: (_, end, lastLine, count) => {
            if (count === 0) {
              // A seal: not copied (it names an offset of this file); the new file gets its own.
              emitted = end;
              return;
            }
            // The batch's lines before its last went out as they were fed (below), or go now.
            if (lastLine > emitted) out!.emit(view(emitted, lastLine));
            out!.emit(recommitLine(view(lastLine, end), count, out!.batchStart));
            emitted = end;
            this.#recordsBefore += count;
            this.#recordsAfter += count;
            out!.endBatch();
          },
          // Whole batches need no batch kept: the lines of one not yet committed go out now.
          onFed: (fedTo) => {
            // After damage nothing commits ('throw' mode), and a line too long to keep is not in view.
            if (scan.damaged) return;
            if (fedTo > emitted) out!.emit(view(emitted, fedTo));
            emitted = fedTo;
          },
        }),
    });
    try {
      while ((await scan.step()) > 0) {
        this.#checkAbort();
        out?.flushIfHalfFull();
        this.#opts.onProgress?.({ phase, bytesRead: scan.pos, bytesTotal: to, recordsWritten: this.#recordsAfter });
      }
    } catch (err) {
      if (err instanceof JournalError) throw err;
      throw ioError('cannot read', this.#file, err);
    } finally {
      await scan.settle();
    }
    // A torn tail in the input is not carried over: the copy ends at the last committed batch.
    this.tornTail = scan.finish(to);
    if (scan.tsBackwards) this.#tsBackwards = true;
    if (scan.lastTs > 0) this.#lastTs = scan.lastTs;
    for (const d of scan.corrupt) this.dropped.push(d);
    return { end: scan.committedEnd, lastSeq: scan.lastSeq };
  }

  #checkAbort(): void {
    if (this.#opts.signal?.aborted) throw abortError(this.#opts.signal, this.#file);
  }
}

/** The end (after its LF) of the line starting at `start`, while its bytes are in view. */
function lineEnd(view: (start: number, end: number) => Buffer, start: number, limit: number): number {
  return start + view(start, limit).indexOf(LF) + 1;
}

/**
 * Copies the bytes a truncation drops, `[from, to)` of the journal open at `fd`, to the first free
 * name of `<journal>.truncated`, `.truncated.1`, ..., durably. Returns that name.
 */
async function keepDropped(file: string, fd: number, from: number, to: number): Promise<string> {
  for (let n = 0; ; n++) {
    const target = n === 0 ? `${file}.truncated` : `${file}.truncated.${n}`;
    if (io.statSync(target) !== null) continue;
    await copyRangeDurably(fd, from, to, target);
    return target;
  }
}

/**
 * Counts the records the policy drops by where they fall between the consumers' positions, so that
 * what each consumer was spared or lost is known without a count per consumer per record.
 */
class ConsumerTally {
  readonly #consumers: readonly ConsumerState[];
  /** The consumers' positions, distinct and rising. */
  readonly #seqs: number[];
  /** Drops the floor kept / removed, by how many positions lie below them (bucket i: above seqs[i - 1], up to seqs[i]). */
  readonly #kept: number[];
  readonly #removed: number[];

  constructor(consumers: readonly ConsumerState[]) {
    this.#consumers = consumers;
    this.#seqs = [...new Set(consumers.map((c) => c.seq))].sort((a, b) => a - b);
    this.#kept = new Array<number>(this.#seqs.length + 1).fill(0);
    this.#removed = new Array<number>(this.#seqs.length + 1).fill(0);
  }

  /** A record the policy drops: `kept` when the floor kept it anyway. */
  dropped(seq: number, kept: boolean): void {
    let lo = 0;
    let hi = this.#seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#seqs[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    (kept ? this.#kept : this.#removed)[lo]!++;
  }

  report(floor: number, minSeq: number): CompactConsumerReport[] {
    // Drops above a position are those in the buckets past its index.
    const above = (counts: number[], seq: number) => {
      let n = 0;
      for (let i = this.#seqs.indexOf(seq) + 1; i < counts.length; i++) n += counts[i]!;
      return n;
    };
    const out: CompactConsumerReport[] = [];
    for (const c of this.#consumers) {
      const held = !c.expired && c.seq + 1 >= floor;
      const r = {
        name: c.name, seq: c.seq, expired: c.expired,
        kept: held ? above(this.#kept, c.seq) : 0, removed: above(this.#removed, c.seq), positionGone: minSeq > c.seq + 1,
      };
      if (r.kept > 0 || r.removed > 0 || r.positionGone) out.push(r);
    }
    return out;
  }
}
