/**
 * Compaction: rewrites a journal into a smaller one and swaps it in by write-replace.
 *
 * 1. Under the compaction lock (a small lock file next to the journal, so compactions exclude
 *    each other without blocking writers), stream the committed records through the policy into a
 *    temp file in the same directory. The temp is flocked from the start: that marks it live for
 *    cleanup, and after the rename it is the new journal's writers' lock.
 * 2. Catch up on what writers appended meanwhile, without their lock, until little is left.
 * 3. Take the writers' lock on the old file (appends stall from here), copy the last of the tail,
 *    fsync the temp, rename it over the journal, fsync the directory, and only then release both
 *    locks: a writer reaching the new file can acknowledge nothing before the rename is durable.
 *
 * A crash before the rename leaves the old journal untouched (the temp is removed by the next open
 * or compaction); after it, the new journal is complete. Seqs are never renumbered; the header keeps
 * the journal's id and creation time, and its generation rises by one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, JournalError, ioError, typed } from './errors.js';
import { encodeBatch, encodeHeader, prepareRecord, recommitLine, type Header } from './format.js';
import { openJournalFile, removeStaleTemps, tempName } from './file.js';
import { dirOf, io } from './io.js';
import { killPoint } from './killpoint.js';
import { LineFeeder } from './lines.js';
import { abortError, FileLock } from './lock.js';
import { DEFAULT_MAX_LINE, type JournalRecord } from './reader.js';
import { consumersFloor } from './consumer.js';
import { scanTail } from './recover.js';
import { BatchScanner, type Damage, type ScannedRecord, type TornTail } from './scan.js';

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
   * Remove nothing that a named consumer (see Consumer) has not committed yet: records from the
   * lowest committed position + 1 on are kept whatever the policy, and `beforeSeq` stops there.
   * @default false
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
}

/** Whether a record's data is a tombstone: it deletes its key under key compaction. */
export function isTombstone(data: unknown): boolean {
  return typeof data === 'object' && data !== null && (data as Record<string, unknown>).$tombstone === true;
}

const CHUNK = 512 * 1024;
/** Output is written in pieces of about this size. */
const WRITE_BYTES = 1024 * 1024;
/**
 * Once this much has been written since the last, a sync of the temp starts in the background,
 * while the copy goes on. Nothing depends on it for safety (the temp is fsynced before the rename
 * in any case): it starts the writeback early, so that the copy and the disk work at once instead
 * of one after the other, and the fsync before the rename, the only one waited for, finds little
 * left to write.
 */
const SYNC_AHEAD_BYTES = 32 * 1024 * 1024;
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
  readonly #o: CompactOptions;
  readonly #lockTimeout: number;
  readonly #tmp: string;
  #tmpFd = -1;
  #tmpLock: FileLock | null = null;
  /** Bytes of the new file produced so far (some may still be in #out or being written). */
  #outPos = 0;
  /** Offset in the new file where the batch being copied starts: its commit mark vouches for all before. */
  #batchStart = 0;
  /** Output waiting to be written: lines copied byte for byte and re-committed last lines. */
  #out: Buffer = Buffer.allocUnsafe(WRITE_BYTES);
  #outBytes = 0;
  /**
   * Output buffers whose writes are done, for reuse: a new buffer per write costs page faults and
   * zeroing in the kernel on first touch, on the same thread that checks every line.
   */
  readonly #spare: Buffer[] = [];
  /** The write in flight: the next chunk is read while it runs. */
  #writing: Promise<void> = Promise.resolve();
  /** The end of what has been handed to #writing: past #outPos when output was taken back. */
  #fileEnd = 0;
  /** Bytes handed to #writing since the last background sync started. */
  #unsynced = 0;
  /** The background sync in flight (see SYNC_AHEAD_BYTES); it never rejects, see #syncError. */
  #syncing: Promise<void> | null = null;
  /** Why a background sync failed: the temp's data may then be lost, whatever a later fsync says. */
  #syncError: unknown = null;
  #recordsBefore = 0;
  #recordsAfter = 0;
  /** key -> seq of the key's latest record, from the first pass (only with `key`). */
  #latest: Map<string, number> | null = null;
  /** With retainForConsumers: the lowest seq a consumer still needs. */
  #floor = Number.POSITIVE_INFINITY;
  readonly #salvage: boolean;
  #headerEnd = 0;
  /** With salvage: the damaged lines left out. */
  readonly dropped: Damage[] = [];
  /** The torn tail the rewrite did not carry over, if any. */
  tornTail: TornTail | null = null;

  constructor(file: string, opts: CompactOptions, salvage: boolean) {
    this.#file = file;
    this.#o = opts;
    this.#salvage = salvage;
    this.#lockTimeout = opts.lockTimeoutMs ?? 30_000;
    this.#tmp = tempName(file, 'compact');
  }

  async run(t0: number): Promise<CompactResult> {
    const { fd, header, headerEnd } = await openJournalFile(this.#file, 'r');
    this.#headerEnd = headerEnd;
    const oldLock = new FileLock(fd, this.#file);
    let renamed = false;
    try {
      // Where the committed data ends now, and its last seq, read under the writers' lock so that a
      // writer cutting a torn tail cannot change the bytes being read.
      await oldLock.acquire(this.#lockTimeout, this.#o.signal);
      let snap;
      try {
        const size = io.fstatSync(fd).size;
        snap = { size, ...(await scanTail(fd, this.#file, headerEnd, size, DEFAULT_MAX_LINE).catch((err) => {
          // A salvage reads the whole file anyway, so damage that keeps the tail from being found is no obstacle.
          if (this.#salvage && err instanceof JournalError && err.code === ErrorCode.CORRUPT) return { end: size, lastSeq: 0 };
          throw err;
        })) };
      } finally {
        oldLock.release();
      }
      if (this.#o.retainForConsumers) this.#floor = (await consumersFloor(this.#file)) ?? Number.POSITIVE_INFINITY;
      if (this.#o.key) this.#latest = await this.#index(fd, headerEnd, snap.end);
      const newHeader: Header = {
        ...header,
        generation: header.generation + 1,
        // Records appended from here on are copied, so they carry their seqs into the new file.
        maxSeq: Math.max(header.maxSeq, snap.lastSeq),
        // Followers and consumers positioned below this learn that retention removed their records.
        minSeq: Math.max(header.minSeq, Math.min(this.#o.beforeSeq ?? 1, this.#floor)),
      };
      await this.#openTemp(newHeader);
      killPoint('compact-temp-created');
      let { end, lastSeq } = await this.#copy(fd, headerEnd, snap.end, 0, 'copy', false);
      for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
        const size = io.fstatSync(fd).size;
        if (size - end < SWAP_TAIL_BYTES) break;
        ({ end, lastSeq } = await this.#copy(fd, end, size, lastSeq, 'copy', true));
      }
      killPoint('compact-temp-written');
      // Flush the bulk now, so that the fsync under the writers' lock has only the tail left.
      await this.#syncTemp();
      this.#checkAbort();

      await oldLock.acquire(this.#lockTimeout, this.#o.signal);
      const stallStart = performance.now();
      this.#o.onProgress?.({ phase: 'swap', bytesRead: end, bytesTotal: io.fstatSync(fd).size, recordsWritten: this.#recordsAfter });
      try {
        const mine = io.fstatSync(fd);
        const current = io.statSync(this.#file);
        if (current === null || current.ino !== mine.ino || current.dev !== mine.dev) {
          throw new JournalError(ErrorCode.COMPACTING, `${this.#file} was replaced during the compaction`, { path: this.#file });
        }
        await this.#copy(fd, end, mine.size, lastSeq, 'swap', true);
        if (this.#fileEnd > this.#outPos) {
          // Lines of a batch that never committed were written past the end; the new journal ends here.
          try {
            await io.ftruncate(this.#tmpFd, this.#outPos);
          } catch (err) {
            throw ioError('cannot truncate', this.#tmp, err);
          }
        }
        await this.#syncTemp();
        killPoint('compact-temp-synced');
        this.#checkAbort();
        try {
          await io.rename(this.#tmp, this.#file);
        } catch (err) {
          throw ioError('cannot rename the compacted file over', this.#file, err);
        }
        renamed = true;
        killPoint('compact-renamed');
        try {
          await io.fsyncDir(dirOf(this.#file));
        } catch (err) {
          throw ioError('cannot fsync the directory of', this.#file, err, ErrorCode.SYNC_FAILED);
        }
        killPoint('compact-dir-synced');
      } finally {
        try {
          oldLock.release();
        } finally {
          this.#tmpLock?.release();
        }
      }
      return {
        recordsBefore: this.#recordsBefore,
        recordsAfter: this.#recordsAfter,
        bytesBefore: snap.size,
        bytesAfter: this.#outPos,
        ms: performance.now() - t0,
        stallMs: performance.now() - stallStart,
        generation: newHeader.generation,
      };
    } finally {
      await oldLock.closeWhenSettled(() => io.close(fd)).catch(() => {});
      await this.#closeTemp(renamed);
    }
  }

  /** First pass for key compaction: the seq of each key's latest record. */
  async #index(fd: number, from: number, to: number): Promise<Map<string, number>> {
    const latest = new Map<string, number>();
    const key = this.#o.key!;
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
    const o = this.#o;
    if (!this.#salvage && (verbatim || (o.keep === undefined && o.key === undefined && o.beforeSeq === undefined))) {
      // Nothing can be dropped, so every committed batch is copied whole: its lines byte for byte,
      // its last line re-committed. The lines go out as they are read, before their batch commits,
      // so no batch is held in memory and the reads can run ahead; what a batch that never commits
      // (a torn tail) put out is taken back. Damage never gets that far: it throws CORRUPT.
      const done = await this.#scan(fd, from, to, prevSeq, phase, false, null);
      this.#unemitUncommitted();
      await this.#drain();
      return done;
    }
    const parse = this.#salvage || (!verbatim && (o.keep !== undefined || o.key !== undefined));
    const done = await this.#scan(fd, from, to, prevSeq, phase, parse, (recs, batchEnd, view) => {
      const endOf = (i: number) => (i + 1 < recs.length ? recs[i + 1]!.offset : batchEnd);
      this.#recordsBefore += recs.length;
      if (this.#salvage) {
        // Damaged lines may lie between these records, so they are encoded anew, not copied.
        this.#emit(encodeBatch(recs.map((r) => Object.assign(prepareRecord(r.data, r.ts), { seq: r.seq })), 0, this.#batchStart).bytes);
        this.#recordsAfter += recs.length;
        this.#batchStart = this.#outPos;
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
            if (runStart >= 0) this.#emit(view(runStart, runEnd));
            runStart = start;
          }
          runEnd = endOf(last);
        }
        last = i;
        kept++;
      }
      if (last < 0) return;
      if (runStart >= 0) this.#emit(view(runStart, runEnd));
      this.#emit(recommitLine(view(recs[last]!.offset, endOf(last)), kept, this.#batchStart));
      this.#recordsAfter += kept;
      this.#batchStart = this.#outPos;
    });
    await this.#drain();
    return done;
  }

  /** Writes out what is gathered and waits for every write. */
  async #drain(): Promise<void> {
    this.#flushOut();
    await this.#writing;
  }

  #keeps(rec: JournalRecord): boolean {
    const { beforeSeq, keep, key } = this.#o;
    if (rec.seq >= this.#floor) return true;
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
    let feeder: LineFeeder | null = null;
    const view = (start: number, end: number) => feeder!.view(start, end);
    /** Without `each` (whole batches): the input offset up to which lines have been put out. */
    let emitted = from;
    const scanner = new BatchScanner(from, {
      path: this.#file, prevSeq, onCorrupt: this.#salvage ? 'report' : 'throw', collect: each !== null,
      firstLine: from === this.#headerEnd ? 2 : null,
      onBatch: each !== null
        ? (records, end) => each(records, end, view)
        : (_, end, lastLine, count) => {
          // The batch's lines before its last went out as they were fed (below), or go now.
          if (lastLine > emitted) this.#emit(view(emitted, lastLine));
          this.#emit(recommitLine(view(lastLine, end), count, this.#batchStart));
          emitted = end;
          this.#recordsBefore += count;
          this.#recordsAfter += count;
          this.#batchStart = this.#outPos;
        },
    });
    feeder = new LineFeeder(fd, from, CHUNK, DEFAULT_MAX_LINE, {
      marksOnly: !parse, readAhead: true,
      // Whole batches need no batch kept: the lines of one not yet committed go out now.
      ...(each !== null ? { retain: () => scanner.committedEnd } : {
        onFed: (fedTo: number) => {
          // After damage nothing commits ('throw' mode), and a line too long to keep is not in view.
          if (scanner.damaged) return;
          if (fedTo > emitted) this.#emit(view(emitted, fedTo));
          emitted = fedTo;
        },
      }),
    });
    try {
      while ((await feeder.step(scanner, to)) > 0) {
        this.#checkAbort();
        if (this.#outBytes >= WRITE_BYTES / 2) this.#flushOut();
        this.#o.onProgress?.({ phase, bytesRead: feeder.pos, bytesTotal: to, recordsWritten: this.#recordsAfter });
      }
    } catch (err) {
      if (err instanceof JournalError) throw err;
      throw ioError('cannot read', this.#file, err);
    } finally {
      await feeder.settle();
    }
    // A torn tail in the input is not carried over: the copy ends at the last committed batch.
    this.tornTail = scanner.finish(to);
    for (const d of scanner.corrupt) this.dropped.push(d);
    return { end: scanner.committedEnd, lastSeq: scanner.lastSeq };
  }

  /**
   * Takes back what was put out after the last committed batch: the lines of a batch that did not
   * commit before the end of the range. Bytes of it already written stay in the temp past #outPos,
   * to be written over or cut off (#fileEnd) before the temp is synced for the last time.
   */
  #unemitUncommitted(): void {
    const extra = this.#outPos - this.#batchStart;
    if (extra === 0) return;
    this.#outBytes -= Math.min(extra, this.#outBytes);
    this.#outPos = this.#batchStart;
  }

  /** Adds `piece` to the output, across as many buffers as it fills (a batch can be larger than one). */
  #emit(piece: Uint8Array): void {
    for (let at = 0; at < piece.length;) {
      if (this.#outBytes === this.#out.length) this.#flushOut();
      const n = Math.min(piece.length - at, this.#out.length - this.#outBytes);
      this.#out.set(n === piece.length ? piece : piece.subarray(at, at + n), this.#outBytes);
      this.#outBytes += n;
      this.#outPos += n;
      at += n;
    }
  }

  /** Starts writing the output gathered so far, after the write before it. */
  #flushOut(): void {
    if (this.#outBytes === 0) return;
    const out = this.#out;
    const bytes = out.subarray(0, this.#outBytes);
    const pos = this.#outPos - this.#outBytes;
    this.#fileEnd = Math.max(this.#fileEnd, this.#outPos);
    this.#out = this.#spare.pop() ?? Buffer.allocUnsafe(WRITE_BYTES);
    this.#outBytes = 0;
    this.#writing = this.#writing.then(async () => {
      await this.#writeOut(bytes, pos);
      this.#spare.push(out);
    });
    // A failed write surfaces from the next await of #writing; until then it must not be unhandled.
    this.#writing.catch(() => {});
    this.#unsynced += bytes.length;
    if (this.#unsynced >= SYNC_AHEAD_BYTES && this.#syncing === null) {
      this.#unsynced = 0;
      // After the writes so far; the writes after it are chained on #writing, not on this, and go on meanwhile.
      const fd = this.#tmpFd;
      this.#syncing = this.#writing
        .then(() => io.fdatasync(fd).catch((err: unknown) => void (this.#syncError ??= err)), () => {
          // The failed write is reported where #writing is awaited; there is nothing to sync after it.
        })
        .finally(() => (this.#syncing = null));
    }
  }

  async #syncTemp(): Promise<void> {
    await this.#syncing;
    try {
      // A failed sync may have dropped the pages it could not write: a later fsync could succeed without them.
      if (this.#syncError !== null) throw this.#syncError;
      await io.fsync(this.#tmpFd);
    } catch (err) {
      throw ioError('cannot fsync', this.#tmp, err, ErrorCode.SYNC_FAILED);
    }
  }

  async #openTemp(header: Header): Promise<void> {
    try {
      this.#tmpFd = await io.open(this.#tmp, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
    } catch (err) {
      throw ioError('cannot create', this.#tmp, err);
    }
    this.#tmpLock = new FileLock(this.#tmpFd, this.#tmp);
    if (!this.#tmpLock.tryAcquire()) {
      throw new JournalError(ErrorCode.IO_ERROR, `${this.#tmp}: cannot lock a file just created`, { path: this.#tmp });
    }
    const head = encodeHeader(header);
    await this.#writeOut(head, 0);
    this.#outPos = head.length;
    this.#batchStart = this.#outPos;
  }

  async #closeTemp(renamed: boolean): Promise<void> {
    if (this.#tmpFd < 0) return;
    const fd = this.#tmpFd;
    // A write or sync may still be in flight after a failure: the fd must outlive it (its number could be reused).
    await this.#writing.catch(() => {});
    await this.#syncing;
    this.#tmpFd = -1;
    if (!renamed) await io.unlink(this.#tmp).catch(() => {});
    try {
      this.#tmpLock!.release();
    } finally {
      await this.#tmpLock!.closeWhenSettled(() => io.close(fd)).catch(() => {});
    }
  }

  /** Writes `bytes` at `pos` of the temp file, looping over short writes. */
  async #writeOut(bytes: Buffer, pos: number): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      let n: number;
      try {
        n = await io.write(this.#tmpFd, bytes, off, bytes.length - off, pos + off);
      } catch (err) {
        throw ioError('cannot write', this.#tmp, err, ErrorCode.WRITE_FAILED);
      }
      if (n <= 0) throw new JournalError(ErrorCode.WRITE_FAILED, `cannot write ${this.#tmp}: no progress`, { path: this.#tmp });
      off += n;
      killPoint('compact-copying');
    }
  }

  #checkAbort(): void {
    if (this.#o.signal?.aborted) throw abortError(this.#o.signal, this.#file);
  }
}

/**
 * The lock that keeps compactions of one journal apart: flock on `.<name>.lock` beside it, a file
 * of its own so that holding it for the whole compaction does not block writers.
 */
async function takeCompactionLock(file: string, o: CompactOptions): Promise<() => Promise<void>> {
  if (io.statSync(file) === null) throw new JournalError(ErrorCode.NOT_FOUND, `${file} does not exist`, { path: file });
  const lockPath = path.join(dirOf(file), `.${path.basename(file)}.lock`);
  let fd: number;
  try {
    fd = await io.open(lockPath, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  } catch (err) {
    throw ioError('cannot open the compaction lock', lockPath, err);
  }
  const lock = new FileLock(fd, lockPath);
  try {
    if (o.wait) await lock.acquire(Number.POSITIVE_INFINITY, o.signal);
    else if (!lock.tryAcquire()) throw new JournalError(ErrorCode.COMPACTING, `${file}: another compaction is running`, { path: file });
  } catch (err) {
    await lock.closeWhenSettled(() => io.close(fd)).catch(() => {});
    throw err;
  }
  return async () => {
    try {
      lock.release();
    } finally {
      await lock.closeWhenSettled(() => io.close(fd));
    }
  };
}
