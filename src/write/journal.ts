/**
 * The writer: appends records with group commit under the writers' lock. Appends queue up while a
 * batch is written and synced; the queue then becomes the next batch, one write(2) and one
 * fdatasync for all of it (docs/design.md, "Writing").
 */
import type { Writable } from 'node:stream';
import { ErrorCode, JournalError, ioError, typed } from '../errors.js';
import { BatchEncoder, prepareRecord, recordSizeBound, type PendingRecord } from '../format/batch.js';
import { newHeader } from '../format/header.js';
import { encodeSeal } from '../format/seal.js';
import { syncDirOf, writeAll } from '../fs/durable.js';
import { io } from '../fs/io.js';
import { killPoint, killPointsArmed } from '../fs/kill-points.js';
import { removeStaleTemps } from '../fs/temps.js';
import { createJournalFile } from './create.js';
import { resolveOptions, type Durability, type JournalOptions, type JournalSettings } from './options.js';
import { AppendQueue, rejectAll, type AppendReceipt, type PendingAppend } from './queue.js';
import { AutoRetention, retentionAvailable } from './retention.js';
import { WriterFile, type RecoveredTail } from './recovery.js';
import { journalWriteStream, type WriteStreamOptions } from './stream.js';

export type { AppendReceipt, Durability, JournalOptions, RecoveredTail };

export interface AppendOptions {
  /** The record's time, ms since the epoch or a Date, instead of now (raised to the journal's last ts if lower). */
  ts?: number | Date;
}

export interface AppendManyOptions {
  /** One time for every value, or an array with one per value (see AppendOptions). */
  ts?: number | Date | ReadonlyArray<number | Date>;
}

/** A record that keeps the seq and timestamp it already has (see appendRecords). */
export interface KeptRecord<T = unknown> {
  seq: number;
  ts: number;
  data: T;
}

/** Batches up to this size are written from the main thread: a copy into the page cache is cheaper than a threadpool round trip. */
const SYNC_WRITE_MAX = 256 * 1024;
/**
 * Without a per-batch fdatasync ('interval', 'unsafe-nosync'), a writer keeps the writers' lock from
 * one batch to the next while appends keep coming: until the event loop gets to its next turn, and
 * for at most this long. Taking the lock and checking the file cost a write's worth of system calls
 * per batch, which is most of an append's cost when appends are awaited one by one; meanwhile
 * other writers wait at most this long (plus one batch) for the lock.
 */
const LEASE_MS = 1;
/**
 * A writer idle this long after a batch writes a seal, which vouches for its last batches: damage
 * to them then reads as corruption, never as a torn tail (docs/guarantees.md). With 'interval', it
 * waits for syncIntervalMs if that is longer.
 */
export const IDLE_SEAL_MS = 250;

/** `T` is the type of the records' data, what append takes, as the caller says; nothing checks it. */
export class Journal<T = unknown> {
  readonly path: string;
  readonly #opts: JournalSettings;
  readonly #file: WriterFile;
  readonly #queue: AppendQueue;
  readonly #encoder = new BatchEncoder();
  /** What open cut as a torn tail. */
  #recovered: RecoveredTail | null = null;
  /** When the last batch was written, and the timer that seals once the writer has been idle (IDLE_SEAL_MS). */
  #lastBatchAt = 0;
  #sealTimer: NodeJS.Timeout | null = null;
  /** With the retention option: compacts in the background when the journal is past its bound. */
  readonly #retention: AutoRetention | null;

  /** When this writer took the lock it holds between batches (see LEASE_MS). */
  #lockedAt = 0;
  /** Gives the lock back at the event loop's next turn, unless a batch is being written then. */
  #leaseEnd: NodeJS.Immediate | null = null;

  #failed: JournalError | null = null;
  #closing: Promise<void> | null = null;
  /** Bytes written but not yet covered by an fdatasync (interval and unsafe modes). */
  #dirty = false;
  #syncTimer: NodeJS.Timeout | null = null;
  #syncing: Promise<void> | null = null;

  private constructor(path: string, opts: JournalSettings, file: WriterFile) {
    this.path = path;
    this.#opts = opts;
    this.#file = file;
    this.#queue = new AppendQueue(opts.maxBatchBytes, opts.maxPendingBytes, (batch) => this.#commit(batch));
    this.#retention = opts.retention === undefined ? null : new AutoRetention(path, opts.retention);
  }

  /**
   * Opens the journal at `path`, creating it if needed. Under the writers' lock it cuts a torn tail
   * a crash left (and only that: damage before durable data fails with CORRUPT instead).
   */
  static async open<T = unknown>(path: string, options?: JournalOptions<T>): Promise<Journal<T>> {
    if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
    // The retention key takes the records as the caller's T: the caller's word, which nothing checks.
    const o = resolveOptions(options as JournalOptions | undefined);
    try {
      await removeStaleTemps(path);
      const created = o.create && io.statSync(path) === null && (await createJournalFile(path, newHeader(o.identity)));
      if (o.retention !== undefined && !retentionAvailable()) throw new TypeError('retention needs compaction, which the package entry loads');
      const file = await WriterFile.open(path, o.lockTimeoutMs, o.maxRecordBytes, o.retention?.maxAgeMs !== undefined);
      const j = new Journal<T>(path, o, file);
      try {
        // The name -> file link this writer appends to must be durable before any append to it is
        // acknowledged. Creating it made it durable already; a compactor killed between its rename
        // and its directory fsync may have left it otherwise.
        if (!created) await syncDirOf(path);
        await file.lock.acquire(o.lockTimeoutMs);
        try {
          j.#recovered = await file.catchUp();
        } finally {
          file.lock.release();
        }
        j.#retention?.check(file.end, file.firstTs);
      } catch (err) {
        await file.close().catch(() => {});
        throw err;
      }
      return j;
    } catch (err) {
      throw typed(err, 'cannot open', path);
    }
  }

  /** The journal's id (from its header; kept by compaction). */
  get id(): string {
    return this.#file.header.id;
  }

  /** The highest seq assigned so far, as far as this writer knows (other processes may be ahead). */
  get lastSeq(): number {
    return this.#file.lastSeq;
  }

  get durability(): Durability {
    return this.#opts.durability;
  }

  /**
   * What open cut under the writers' lock: the torn tail a crash left (where it started, how many
   * bytes, how many of its lines another tool appended) and the file its bytes were saved to first;
   * null if it cut nothing. What a check made before the open saw can differ: in between, a live
   * writer may have finished that batch, or cut it and appended after it.
   */
  get recovered(): RecoveredTail | null {
    return this.#recovered;
  }

  /**
   * A Writable in object mode that appends each value written to it (see write/stream.ts): for
   * pipeline(). A write's callback fires once the record is durable; the records buffered
   * meanwhile go as one appendMany. Ending the stream does not close the journal.
   */
  createWriteStream(options?: WriteStreamOptions): Writable {
    return journalWriteStream<T>(this, options);
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closing !== null;
  }

  /**
   * Appends one JSON value. Resolves with its seq once the batch is durable under the durability
   * option. `ts` sets the record's time (ms since the epoch, or a Date) instead of now, as when
   * importing a log; it is raised to the journal's last ts if lower (timestamps never go back).
   */
  append(value: T, options?: AppendOptions): Promise<AppendReceipt> {
    const refused = this.#refusal();
    if (refused !== null) return Promise.reject(refused);
    let rec: PendingRecord;
    try {
      rec = this.#prepare(value, timeOf(options?.ts, 0) ?? Date.now());
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#queue.submit(rec, null, recordSizeBound(rec.dataBytes), false) as Promise<AppendReceipt>;
  }

  /**
   * Appends several values as one group: they get consecutive seqs in one batch, and after a crash
   * readers see all of them or none. If any value is invalid, nothing is appended. `ts`, as for
   * append: one time for all, or an array of one per value.
   */
  appendMany(values: readonly T[], options?: AppendManyOptions): Promise<AppendReceipt[]> {
    if (!Array.isArray(values)) return Promise.reject(new TypeError('appendMany takes an array'));
    const refused = this.#refusal();
    if (refused !== null) return Promise.reject(refused);
    if (values.length === 0) return Promise.resolve([]);
    const recs: PendingRecord[] = new Array(values.length);
    let bytes = 0;
    try {
      const given = options?.ts;
      if (Array.isArray(given) && given.length !== values.length) throw new RangeError(`appendMany: ts has ${given.length} times for ${values.length} values`);
      const now = Date.now();
      const one = Array.isArray(given) ? undefined : timeOf(given as number | Date | undefined, 0);
      for (let i = 0; i < values.length; i++) {
        const ts = Array.isArray(given) ? timeOf(given[i], i)! : (one ?? now);
        const r = this.#prepare(values[i], ts, i);
        recs[i] = r;
        bytes += recordSizeBound(r.dataBytes);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (bytes > this.#opts.maxPendingBytes) {
      return Promise.reject(new JournalError(ErrorCode.RECORD_TOO_LARGE, `appendMany group of ${bytes} bytes exceeds maxPendingBytes (${this.#opts.maxPendingBytes})`, { path: this.path }));
    }
    return this.#queue.submit(null, recs, bytes, false) as Promise<AppendReceipt[]>;
  }

  /**
   * For restoring and replicating: appends records that keep the seqs and timestamps they already
   * have, as one all-or-nothing group. Seqs must rise, and the first must be above the journal's
   * last seq when the group is written (SEQ_CONFLICT otherwise; nothing is written). Gaps are fine.
   */
  appendRecords(records: readonly KeptRecord<T>[]): Promise<AppendReceipt[]> {
    if (!Array.isArray(records)) return Promise.reject(new TypeError('appendRecords takes an array'));
    const refused = this.#refusal();
    if (refused !== null) return Promise.reject(refused);
    if (records.length === 0) return Promise.resolve([]);
    const recs: PendingRecord[] = new Array(records.length);
    let bytes = 0;
    let prev = 0;
    try {
      for (let i = 0; i < records.length; i++) {
        const { seq, ts, data } = records[i]!;
        if (!Number.isSafeInteger(seq) || seq <= prev) throw new RangeError(`appendRecords: seq at [${i}] must be a positive integer above the one before`);
        if (!Number.isSafeInteger(ts) || ts < 0) throw new RangeError(`appendRecords: ts at [${i}] must be a non-negative integer`);
        const r = this.#prepare(data, ts, i);
        r.seq = seq;
        recs[i] = r;
        bytes += recordSizeBound(r.dataBytes);
        prev = seq;
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (bytes > this.#opts.maxPendingBytes) {
      return Promise.reject(new JournalError(ErrorCode.RECORD_TOO_LARGE, `appendRecords group of ${bytes} bytes exceeds maxPendingBytes (${this.#opts.maxPendingBytes})`, { path: this.path }));
    }
    return this.#queue.submit(null, recs, bytes, true) as Promise<AppendReceipt[]>;
  }

  /**
   * Resolves once everything appended before this call is written and durable, whatever the
   * durability option: with 'interval' and 'unsafe-nosync' it runs an fdatasync.
   */
  async flush(): Promise<void> {
    await this.#queue.settled.catch(() => {});
    if (this.#failed !== null) throw this.#failedError();
    if (this.#opts.durability !== 'always') await this.#syncNow();
  }

  /**
   * Writes what is queued, then closes the file. With 'interval' it syncs first; with
   * 'unsafe-nosync' it does not. Safe to call twice; appends after it reject with CLOSED.
   */
  close(): Promise<void> {
    if (this.#closing === null) this.#closing = this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    await this.#queue.settled.catch(() => {});
    if (this.#sealTimer !== null) clearTimeout(this.#sealTimer);
    await this.#retention?.stop();
    // A lock kept from the last batch goes back before anything else.
    const unlockFailed = this.#unlock();
    let err: unknown = null;
    if (this.#opts.durability === 'interval' && this.#failed === null) err = await this.#syncNow().then(() => null, (e) => e);
    // Sealed, a cleanly closed journal has no batch a torn tail could be mistaken for.
    if (err === null && unlockFailed === null && this.#failed === null && this.#opts.durability !== 'unsafe-nosync') {
      err = await this.#queue.submitSeal().then(() => null, (e) => e);
    }
    err ??= unlockFailed;
    if (this.#syncTimer !== null) clearTimeout(this.#syncTimer);
    await this.#syncing?.catch(() => {});
    try {
      await this.#file.close();
    } catch (e) {
      err ??= ioError('cannot close', this.path, e);
    }
    if (err !== null) throw err;
  }

  #refusal(): JournalError | null {
    if (this.#failed !== null) return this.#failedError();
    if (this.#closing !== null) return new JournalError(ErrorCode.CLOSED, `${this.path}: journal is closed`, { path: this.path });
    return null;
  }

  #failedError(): JournalError {
    return new JournalError(ErrorCode.FAILED, `${this.path}: an earlier write or sync failed (${this.#failed!.message}); reopen the journal`, {
      path: this.path, cause: this.#failed,
    });
  }

  #prepare(value: unknown, ts = Date.now(), index = -1): PendingRecord {
    let rec: PendingRecord;
    try {
      rec = prepareRecord(value, ts);
    } catch (err) {
      if (index >= 0 && err instanceof JournalError) {
        throw new JournalError(err.code, `appendMany value [${index}]: ${err.message}`, { path: this.path, index, cause: err.cause });
      }
      throw err;
    }
    if (recordSizeBound(rec.dataBytes) > this.#opts.maxRecordBytes) {
      const which = index >= 0 ? `appendMany value [${index}]: ` : 'record of ';
      throw new JournalError(ErrorCode.RECORD_TOO_LARGE, `${which}${rec.dataBytes} bytes of JSON exceeds maxRecordBytes (${this.#opts.maxRecordBytes})`, {
        path: this.path, ...(index >= 0 ? { index } : {}),
      });
    }
    return rec;
  }

  /** Writes one batch under the writers' lock, makes it durable as the durability option says, and acknowledges it. */
  async #commit(batch: PendingAppend[]): Promise<void> {
    if (this.#failed !== null) {
      this.#unlock();
      return rejectAll(batch, this.#failedError());
    }
    if (batch[0]!.seal) return this.#seal(batch[0]!);
    const file = this.#file;
    const records: PendingRecord[] = [];
    for (const e of batch) {
      if (e.record !== null) records.push(e.record);
      else for (const r of e.group!) records.push(r);
    }
    let start: number;
    let firstSeq: number;
    let end: number;
    // Held since this writer's last batch: nobody else can have touched the file since.
    const leased = file.lock.held;
    if (!leased) {
      try {
        await file.lock.acquire(this.#opts.lockTimeoutMs);
      } catch (err) {
        return rejectAll(batch, err);
      }
      this.#lockedAt = performance.now();
    }
    try {
      if (!leased) await file.catchUp();
      if (batch[0]!.ownSeqs && records[0]!.seq! <= file.lastSeq) {
        const failed = this.#unlock();
        if (failed !== null) return this.#fail(batch, failed);
        return rejectAll(batch, new JournalError(ErrorCode.SEQ_CONFLICT, `${this.path}: appendRecords: seq ${records[0]!.seq} is not above the journal's last seq ${file.lastSeq}`, { path: this.path }));
      }
      firstSeq = batch[0]!.ownSeqs ? records[0]!.seq! : file.lastSeq + 1;
      // Timestamps never go back in seq order, across processes and clock steps: each is at least
      // the last one in the journal (format.md §3), so the journal can be searched by time.
      let ts = file.lastTs;
      for (const r of records) {
        if (r.ts < ts) r.ts = ts;
        else ts = r.ts;
      }
      const bytes = this.#encoder.encode(records, firstSeq, file.synced);
      start = file.end;
      killPoint('before-write');
      const writing = this.#write(bytes, start);
      if (writing !== undefined) await writing;
      killPoint('after-write');
      end = start + bytes.length;
      file.appended(end, records[records.length - 1]!.seq ?? firstSeq + records.length - 1, ts, records[0]!.ts);
    } catch (err) {
      this.#unlock();
      return this.#fail(batch, err);
    }
    if (this.#opts.durability !== 'always' && performance.now() - this.#lockedAt < LEASE_MS) {
      this.#leaseEnd ??= setImmediate(() => {
        this.#leaseEnd = null;
        // A batch being written now decides for itself whether to keep the lock.
        if (!this.#queue.running) this.#failed ??= this.#unlock();
      });
    } else {
      // Peers would wait on a lock that was not given back until this journal's fd is closed.
      const unlockFailed = this.#unlock();
      if (unlockFailed !== null) return this.#fail(batch, unlockFailed);
    }
    if (this.#opts.durability === 'always') {
      try {
        await io.fdatasync(file.fd);
      } catch (err) {
        return this.#fail(batch, ioError('fdatasync failed on', this.path, err, ErrorCode.SYNC_FAILED));
      }
      killPoint('after-sync');
      file.durableTo(end);
    } else {
      this.#dirty = true;
      if (this.#opts.durability === 'interval') this.#scheduleSync();
    }
    killPoint('before-ack');
    // The encoder's offsets are this batch's until the next batch is encoded, after this one is acknowledged.
    const offsets = this.#encoder.offsets;
    let k = 0;
    for (const e of batch) {
      if (e.record !== null) {
        e.resolve({ seq: firstSeq + k, offset: start + offsets[k]! });
        k++;
      } else {
        const group = e.group!;
        const receipts: AppendReceipt[] = new Array(group.length);
        for (let i = 0; i < receipts.length; i++, k++) receipts[i] = { seq: group[i]!.seq ?? firstSeq + k, offset: start + offsets[k]! };
        e.resolve(receipts);
      }
    }
    this.#lastBatchAt = performance.now();
    if (this.#sealTimer === null && this.#opts.durability !== 'unsafe-nosync' && file.seals) this.#armSeal(this.#idleMs());
    this.#retention?.check(end, file.firstTs);
  }

  #idleMs(): number {
    return this.#opts.durability === 'interval' ? Math.max(IDLE_SEAL_MS, this.#opts.syncIntervalMs) : IDLE_SEAL_MS;
  }

  /** Seals once no batch has been written for the idle time; the timer does not keep the process alive. */
  #armSeal(ms: number): void {
    this.#sealTimer = setTimeout(() => {
      this.#sealTimer = null;
      if (this.#closing !== null || this.#failed !== null) return;
      const idle = performance.now() - this.#lastBatchAt;
      if (idle < this.#idleMs() || this.#queue.running) return this.#armSeal(Math.max(1, this.#idleMs() - idle));
      // Its failure fails the journal, and the next append says so.
      this.#queue.submitSeal().catch(() => {});
    }, ms);
    this.#sealTimer.unref();
  }

  /**
   * Writes a seal at the end (format.md §5), once every byte before it is durable, and makes the
   * seal durable: the batches before it are then vouched for. Nothing is written to a version 1
   * journal, or to one that ends with a seal already.
   */
  async #seal(e: PendingAppend): Promise<void> {
    const file = this.#file;
    const leased = file.lock.held;
    if (!leased) {
      try {
        await file.lock.acquire(this.#opts.lockTimeoutMs);
      } catch (err) {
        return e.reject(err);
      }
    }
    let end: number;
    try {
      if (!leased) await file.catchUp();
      if (!file.seals || file.sealed) {
        const failed = this.#unlock();
        return failed === null ? e.resolve([]) : this.#fail([e], failed);
      }
      if (file.synced < file.end) {
        // Bytes other writers appended, or this one without a sync: the seal may vouch only for durable bytes.
        await this.#fdatasync();
        file.durableTo(file.end);
      }
      const seal = encodeSeal(file.end);
      await this.#write(seal, file.end);
      end = file.end + seal.length;
      file.sealedTo(end);
    } catch (err) {
      this.#unlock();
      return this.#fail([e], err);
    }
    const unlockFailed = this.#unlock();
    if (unlockFailed !== null) return this.#fail([e], unlockFailed);
    try {
      await this.#fdatasync();
    } catch (err) {
      return this.#fail([e], err);
    }
    file.durableTo(end);
    e.resolve([]);
  }

  async #fdatasync(): Promise<void> {
    try {
      await io.fdatasync(this.#file.fd);
    } catch (err) {
      throw ioError('fdatasync failed on', this.path, err, ErrorCode.SYNC_FAILED);
    }
  }

  /**
   * Writes a whole batch at `pos`; on failure removes what part of it reached the file, if it can.
   * A batch that one synchronous write takes whole returns undefined, not a promise: an append
   * awaited on its own would otherwise pay for two promises and their turns of the microtask queue.
   */
  #write(buf: Buffer, pos: number): Promise<void> | undefined {
    let done = 0;
    if (buf.length <= SYNC_WRITE_MAX && !killPointsArmed) {
      try {
        done = io.writeSync(this.#file.fd, buf, 0, buf.length, pos);
      } catch (err) {
        return this.#cutPartial(pos, ioError('cannot write', this.path, err, ErrorCode.WRITE_FAILED));
      }
      if (done === buf.length) return undefined;
    }
    return this.#writeRest(buf, pos, done);
  }

  /** Writes `buf` from `done` on, looping over short writes. */
  async #writeRest(buf: Buffer, pos: number, done: number): Promise<void> {
    const rest = done === 0 ? buf : buf.subarray(done);
    try {
      await writeAll(this.#file.fd, rest, pos + done, this.path, {
        syncBelow: SYNC_WRITE_MAX,
        // With kill points armed, the batch goes in two writes so a crash can land between them.
        ...(killPointsArmed && rest.length > 1 ? { firstPiece: rest.length >> 1, afterWrite: (n: number) => n < rest.length && killPoint('mid-write') } : {}),
      });
    } catch (err) {
      return this.#cutPartial(pos, err);
    }
  }

  /** Without its commit line the partial batch is a torn tail anyway; cutting it now is tidier. */
  async #cutPartial(pos: number, err: unknown): Promise<never> {
    await io.ftruncate(this.#file.fd, pos).catch(() => {});
    throw err;
  }

  /** Releases the writers' lock, returning a failure instead of throwing it: the batch must still be settled. */
  #unlock(): JournalError | null {
    if (this.#leaseEnd !== null) {
      clearImmediate(this.#leaseEnd);
      this.#leaseEnd = null;
    }
    try {
      this.#file.lock.release();
      return null;
    } catch (err) {
      // The lock may still be held, and every other writer of the journal would wait on it until
      // this instance is closed: close it now (closing the fd releases the lock). Its failure is
      // reported by close().
      this.close().catch(() => {});
      return err instanceof JournalError ? err : ioError('cannot release the lock on', this.path, err);
    }
  }

  #fail(batch: PendingAppend[], err: unknown): void {
    const e = err instanceof JournalError ? err : ioError('failed on', this.path, err);
    // A lock timeout or an abort leaves the journal usable; anything that may have touched the file does not.
    if (e.code !== ErrorCode.LOCK_TIMEOUT) {
      this.#failed ??= e;
      rejectAll(this.#queue.takeAll(), this.#failedError());
    }
    rejectAll(batch, e);
  }

  #scheduleSync(): void {
    if (this.#syncTimer !== null) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = null;
      this.#syncNow().catch(() => {});
    }, this.#opts.syncIntervalMs);
    this.#syncTimer.unref();
  }

  /** One fdatasync of everything written so far; a failure fails the journal. */
  async #syncNow(): Promise<void> {
    if (this.#syncing !== null) await this.#syncing.catch(() => {});
    if (!this.#dirty) return;
    if (this.#failed !== null) throw this.#failedError();
    const end = this.#file.end;
    this.#dirty = false;
    this.#syncing = io.fdatasync(this.#file.fd).then(() => {
      this.#file.durableTo(end);
    }, (err) => {
      const e = ioError('fdatasync failed on', this.path, err, ErrorCode.SYNC_FAILED);
      this.#failed ??= e;
      throw e;
    }).finally(() => {
      this.#syncing = null;
    });
    await this.#syncing;
  }
}

/** A time option as ms since the epoch; undefined when absent. `index` names the value for the error. */
function timeOf(t: number | Date | undefined, index: number): number | undefined {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : t;
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`ts at [${index}] must be a Date or a non-negative integer of ms since the epoch`);
  return ms;
}
