/**
 * Compaction: rewrites a journal through a retention policy into a new file and swaps it in by
 * write-replace, while writers, readers and followers go on (docs/design.md, "Compaction").
 */
import { ErrorCode, JournalError, ioError, typed } from '../errors.js';
import { encodeBatch, prepareRecord } from '../format/batch.js';
import { recommitLine } from '../format/envelope.js';
import type { Header } from '../format/header.js';
import { MAX_LINE_BYTES } from '../format/limits.js';
import { replaceDurably } from '../fs/durable.js';
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
import { takeCompactionLock } from './lock.js';
import { CompactionOutput } from './output.js';

export interface CompactOptions {
  /** Drop the records for which this returns false. */
  keep?: (rec: JournalRecord) => boolean;
  /**
   * Keep only the latest record of each key, as a Kafka compacted topic does (records for which it
   * returns undefined have no key and are kept). A key's latest record is kept however old it is,
   * unless it is a tombstone (data `{"$tombstone": true, ...}`) older than `beforeSeq`: then the key
   * is gone. Until then the tombstone stays, so that followers still see the delete.
   */
  key?: (rec: JournalRecord) => string | undefined;
  /**
   * Retention: drop the records with a seq below this, e.g. once every consumer is past it. With
   * `key`, it drops superseded records, unkeyed records and tombstones below it, but never a key's
   * live latest value.
   */
  beforeSeq?: number;
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
  phase: 'index' | 'copy' | 'swap';
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

/** Catching up without the writers' lock stops once less than this is left to copy. */
const SWAP_TAIL_BYTES = 256 * 1024;
const CATCH_UP_ROUNDS = 4;

/**
 * Rewrites the journal at `path` keeping what the policy keeps, and swaps it in crash-safely while
 * writers, readers and followers go on. Only one compaction of a journal runs at a time.
 */
export async function compact(file: string, opts: CompactOptions = {}): Promise<CompactResult> {
  if (opts.beforeSeq !== undefined && !(Number.isSafeInteger(opts.beforeSeq) && opts.beforeSeq >= 1)) {
    throw new RangeError('beforeSeq must be a positive integer');
  }
  const { result } = await rewrite(file, opts, false);
  return result;
}

/**
 * The rewrite behind compact() and repair(). With `salvage`, damage before durable data does not
 * stop it: the damaged lines are left out and reported, and the intact records around them kept.
 */
export async function rewrite(file: string, opts: CompactOptions, salvage: boolean): Promise<{ result: CompactResult; dropped: Damage[]; tornTail: TornTail | null }> {
  if (typeof file !== 'string' || file === '') throw new TypeError('path must be a non-empty string');
  const t0 = performance.now();
  try {
    const release = await takeCompactionLock(file, opts);
    try {
      await removeStaleTemps(file);
      const c = new Compaction(file, opts, salvage);
      const result = await c.run(t0);
      return { result, dropped: c.dropped, tornTail: c.tornTail };
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
  /** The consumers and what the policy removed after their positions (only when a policy can remove records). */
  #consumers: ConsumerTally | null = null;
  readonly #salvage: boolean;
  #headerEnd = 0;
  /** With salvage: the damaged lines left out. */
  readonly dropped: Damage[] = [];
  /** The torn tail the rewrite did not carry over, if any. */
  tornTail: TornTail | null = null;

  constructor(file: string, opts: CompactOptions, salvage: boolean) {
    this.#file = file;
    this.#opts = opts;
    this.#salvage = salvage;
    this.#lockTimeout = opts.lockTimeoutMs ?? 30_000;
  }

  async run(t0: number): Promise<CompactResult> {
    const { fd, header, headerEnd } = await openJournalFile(this.#file, 'r');
    this.#headerEnd = headerEnd;
    const oldLock = new FileLock(fd, this.#file);
    let renamed = false;
    try {
      // Where the committed data ends now, and its last seq, read under the writers' lock so that a
      // writer cutting a torn tail cannot change the bytes being read.
      await oldLock.acquire(this.#lockTimeout, this.#opts.signal);
      let snap;
      try {
        const size = io.fstatSync(fd).size;
        snap = { size, ...(await recoverTail(fd, this.#file, headerEnd, size, MAX_LINE_BYTES).catch((err) => {
          // A salvage reads the whole file anyway, so damage that keeps the tail from being found is no obstacle.
          if (this.#salvage && err instanceof JournalError && err.code === ErrorCode.CORRUPT) return { end: size, lastSeq: 0 };
          throw err;
        })) };
      } finally {
        oldLock.release();
      }
      const o = this.#opts;
      if (!this.#salvage && (o.keep !== undefined || o.key !== undefined || o.beforeSeq !== undefined)) {
        const consumers = await consumersForRetention(this.#file);
        if (o.retainForConsumers ?? true) this.#floor = floorOf(consumers) ?? Number.POSITIVE_INFINITY;
        if (consumers.length > 0) this.#consumers = new ConsumerTally(consumers);
      }
      if (this.#opts.key) this.#latest = await this.#index(fd, headerEnd, snap.end);
      const newHeader: Header = {
        ...header,
        generation: header.generation + 1,
        // Records appended from here on are copied, so they carry their seqs into the new file.
        maxSeq: Math.max(header.maxSeq, snap.lastSeq),
        // Followers and consumers positioned below this learn that retention removed their records.
        minSeq: Math.max(header.minSeq, Math.min(this.#opts.beforeSeq ?? 1, this.#floor)),
      };
      const out = this.#out = await CompactionOutput.create(this.#file, newHeader);
      killPoint('compact-temp-created');
      let { end, lastSeq } = await this.#copy(fd, headerEnd, snap.end, 0, 'copy', false);
      for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
        const size = io.fstatSync(fd).size;
        if (size - end < SWAP_TAIL_BYTES) break;
        ({ end, lastSeq } = await this.#copy(fd, end, size, lastSeq, 'copy', true));
      }
      killPoint('compact-temp-written');
      // Flush the bulk now, so that the fsync under the writers' lock has only the tail left.
      await out.sync();
      this.#checkAbort();

      await oldLock.acquire(this.#lockTimeout, this.#opts.signal);
      const stallStart = performance.now();
      this.#opts.onProgress?.({ phase: 'swap', bytesRead: end, bytesTotal: io.fstatSync(fd).size, recordsWritten: this.#recordsAfter });
      try {
        const mine = io.fstatSync(fd);
        const current = io.statSync(this.#file);
        if (current === null || current.ino !== mine.ino || current.dev !== mine.dev) {
          throw new JournalError(ErrorCode.COMPACTING, `${this.#file} was replaced during the compaction`, { path: this.#file });
        }
        await this.#copy(fd, end, mine.size, lastSeq, 'swap', true);
        await out.finish();
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
    if (!this.#salvage && (verbatim || (o.keep === undefined && o.key === undefined && o.beforeSeq === undefined))) {
      // Nothing can be dropped, so every committed batch is copied whole: its lines byte for byte,
      // its last line re-committed. The lines go out as they are read, before their batch commits,
      // so no batch is held in memory and the reads can run ahead; what a batch that never commits
      // (a torn tail) put out is taken back. Damage never gets that far: it throws CORRUPT.
      const done = await this.#scan(fd, from, to, prevSeq, phase, false, null);
      out.takeBackUnfinished();
      await out.drain();
      return done;
    }
    const parse = this.#salvage || (!verbatim && (o.keep !== undefined || o.key !== undefined));
    const done = await this.#scan(fd, from, to, prevSeq, phase, parse, (recs, batchEnd, view) => {
      const endOf = (i: number) => (i + 1 < recs.length ? recs[i + 1]!.offset : batchEnd);
      this.#recordsBefore += recs.length;
      if (this.#salvage) {
        // Damaged lines may lie between these records, so they are encoded anew, not copied.
        out.emit(encodeBatch(recs.map((r) => Object.assign(prepareRecord(r.data, r.ts), { seq: r.seq })), 0, out.batchStart).bytes);
        this.#recordsAfter += recs.length;
        out.endBatch();
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

  #keeps(rec: JournalRecord): boolean {
    if (this.#policyKeeps(rec)) return true;
    this.#consumers?.dropped(rec.seq, rec.seq >= this.#floor);
    return rec.seq >= this.#floor;
  }

  /** Whether the policy alone keeps `rec`. */
  #policyKeeps(rec: JournalRecord): boolean {
    const { beforeSeq, keep, key } = this.#opts;
    if (keep && !keep(rec)) return false;
    const old = beforeSeq !== undefined && rec.seq < beforeSeq;
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
      path: this.#file, from, to, prevSeq, firstLine: from === this.#headerEnd ? 2 : null,
      onCorrupt: this.#salvage ? 'report' : 'throw', decode: parse ? 'data' : 'marks', collect: each !== null, readAhead: true,
      ...(each !== null
        ? { retainBatch: true, onBatch: (records, end) => each(records, end, view) }
        : {
          onBatch: (_, end, lastLine, count) => {
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
    for (const d of scan.corrupt) this.dropped.push(d);
    return { end: scan.committedEnd, lastSeq: scan.lastSeq };
  }

  #checkAbort(): void {
    if (this.#opts.signal?.aborted) throw abortError(this.#opts.signal, this.#file);
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
