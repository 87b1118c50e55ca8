/**
 * The writer: appends records with group commit under the writers' lock.
 *
 * Appends queue up while a batch is being written and synced; the queue then becomes the next
 * batch: one write(2) and one fdatasync for all of it. Each batch is written under the exclusive
 * lock, after the writer has brought its view of the file up to date (another process may have
 * appended, cut a torn tail, or replaced the file), and the lock is released before the fdatasync
 * so other writers' batches can share the disk flush. docs/guarantees.md proves that an ack still
 * means durable.
 *
 * Invariants, kept under the lock:
 *   - #end is the end of a committed batch, and the file holds nothing but committed batches up to it;
 *   - #lastSeq is the highest seq ever assigned in this journal as far as this writer knows;
 *   - every byte before #synced is known durable (that is the `synced` the next commit mark carries).
 */
import { ErrorCode, JournalError, ioError, typed } from './errors.js';
import { encodeBatch, newHeader, prepareRecord, recordSizeBound, type Header, type PendingRecord } from './format.js';
import { createJournalFile, openJournalFile, removeStaleTemps } from './file.js';
import { dirOf, io } from './io.js';
import { killPoint, killPointsArmed } from './killpoint.js';
import { FileLock } from './lock.js';
import { scanFrom, scanTail, type TailState } from './recover.js';
import type { TornTail } from './scan.js';

export type Durability = 'always' | 'interval' | 'unsafe-nosync';

export interface JournalOptions {
  /**
   * When an append resolves. 'always': after fdatasync, so an acknowledged record survives a power
   * loss. 'interval': after write(2); a background fdatasync runs every `syncIntervalMs`, so a power
   * loss can take back the acknowledged records of the last interval (a process crash cannot).
   * 'unsafe-nosync': after write(2), never synced unless flush() is called.
   * @default 'always'
   */
  durability?: Durability;
  /** Period of the background fdatasync with durability 'interval'. @default 1000 */
  syncIntervalMs?: number;
  /** Largest line one record may take in the file, framing included. @default 16 MiB */
  maxRecordBytes?: number;
  /** A batch stops taking queued appends when it reaches this size (one appendMany group is never split). @default 4 MiB */
  maxBatchBytes?: number;
  /** When this many bytes wait to be written, append waits instead of queueing more. @default 64 MiB */
  maxPendingBytes?: number;
  /** How long a batch may wait for the writers' lock before its appends reject with LOCK_TIMEOUT. @default 30000 */
  lockTimeoutMs?: number;
  /** Create the journal if it does not exist. @default true */
  create?: boolean;
  /**
   * The id and creation time a journal created by this open gets, instead of new ones: for
   * restoring a copy of another journal. Ignored when the journal exists.
   */
  identity?: { id: string; created: number };
}

/** A record that keeps the seq and timestamp it already has (see appendRecords). */
export interface KeptRecord {
  seq: number;
  ts: number;
  data: unknown;
}

export interface AppendReceipt {
  seq: number;
  /** Byte offset of the record's line in the file it was written to. */
  offset: number;
}

interface ResolvedOptions {
  readonly durability: Durability;
  readonly syncIntervalMs: number;
  readonly maxRecordBytes: number;
  readonly maxBatchBytes: number;
  readonly maxPendingBytes: number;
  readonly lockTimeoutMs: number;
  readonly create: boolean;
  readonly identity: { id: string; created: number } | undefined;
}

const MiB = 1024 * 1024;
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

function resolveOptions(o: JournalOptions = {}): ResolvedOptions {
  const durability = o.durability ?? 'always';
  if (durability !== 'always' && durability !== 'interval' && durability !== 'unsafe-nosync') {
    throw new TypeError(`durability must be 'always', 'interval' or 'unsafe-nosync', not ${String(durability)}`);
  }
  if (o.syncIntervalMs !== undefined && durability !== 'interval') {
    throw new TypeError(`syncIntervalMs only applies to durability 'interval'`);
  }
  const r: ResolvedOptions = {
    durability,
    syncIntervalMs: positive('syncIntervalMs', o.syncIntervalMs ?? 1000),
    maxRecordBytes: positive('maxRecordBytes', o.maxRecordBytes ?? 16 * MiB),
    maxBatchBytes: positive('maxBatchBytes', o.maxBatchBytes ?? 4 * MiB),
    maxPendingBytes: positive('maxPendingBytes', o.maxPendingBytes ?? 64 * MiB),
    lockTimeoutMs: nonNegative('lockTimeoutMs', o.lockTimeoutMs ?? 30_000),
    create: o.create ?? true,
    identity: o.identity,
  };
  if (r.identity !== undefined && (typeof r.identity.id !== 'string' || r.identity.id === '' || !Number.isSafeInteger(r.identity.created))) {
    throw new TypeError('identity must be { id: non-empty string, created: ms since the epoch }');
  }
  if (r.maxPendingBytes < r.maxRecordBytes) throw new RangeError('maxPendingBytes must be at least maxRecordBytes');
  return r;
}

function positive(name: string, v: number): number {
  if (typeof v !== 'number' || !(v > 0)) throw new RangeError(`${name} must be a positive number`);
  return v;
}
function nonNegative(name: string, v: number): number {
  if (typeof v !== 'number' || !(v >= 0)) throw new RangeError(`${name} must be zero or more`);
  return v;
}

/**
 * The torn tail each Journal cut when it opened. Kept outside the class so that the package does
 * not export it (index.ts does not re-export it): only `journal verify --fix` needs to know.
 */
const cutAtOpen = new WeakMap<Journal, TornTail>();

/**
 * What Journal.open cut from `j` under the writers' lock, or null if it cut nothing. This is what
 * was actually cut, which a check made before the open cannot know: in between, a live writer may
 * have finished the batch that looked torn, or cut it and appended after it.
 */
export function tornTailCutAtOpen(j: Journal): TornTail | null {
  return cutAtOpen.get(j) ?? null;
}

/** One append (`one`) or appendMany (`many`) call waiting for its batch. */
interface Entry {
  one: PendingRecord | null;
  many: PendingRecord[] | null;
  /** appendRecords: the records carry their own seqs, and the entry is a batch of its own. */
  kept: boolean;
  bytes: number;
  resolve: (r: AppendReceipt | AppendReceipt[]) => void;
  reject: (e: unknown) => void;
}

export class Journal {
  readonly path: string;
  readonly #o: ResolvedOptions;
  #fd: number;
  #lock: FileLock;
  #header: Header;
  #headerEnd: number;
  /** End of the last committed batch we know of; -1 until a full recovery has run. */
  #end = -1;
  #lastSeq = 0;
  #synced = 0;

  #queue: Entry[] = [];
  #queueBytes = 0;
  /** Appends held back by maxPendingBytes, admitted in order as the queue drains. */
  #blocked: Entry[] = [];
  #running = false;
  /** Settles when the most recently submitted entry has been handled (for flush and close). */
  #tail: Promise<unknown> = Promise.resolve();

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

  private constructor(path: string, o: ResolvedOptions, fd: number, header: Header, headerEnd: number) {
    this.path = path;
    this.#o = o;
    this.#fd = fd;
    this.#lock = new FileLock(fd, path);
    this.#header = header;
    this.#headerEnd = headerEnd;
  }

  /**
   * Opens the journal at `path`, creating it if needed. Under the writers' lock it cuts a torn tail
   * a crash left (and only that: damage before durable data fails with CORRUPT instead).
   */
  static async open(path: string, options?: JournalOptions): Promise<Journal> {
    if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
    const o = resolveOptions(options);
    try {
      await removeStaleTemps(path);
      const created = o.create && io.statSync(path) === null && (await createJournalFile(path, newHeader(o.identity)));
      const { fd, header, headerEnd } = await openJournalFile(path, 'r+');
      const j = new Journal(path, o, fd, header, headerEnd);
      try {
        // Creating it made its name durable already.
        if (!created) await syncNameOf(path);
        await j.#lock.acquire(o.lockTimeoutMs);
        try {
          const cut = await j.#catchUp();
          if (cut !== null) cutAtOpen.set(j, cut);
        } finally {
          j.#lock.release();
        }
      } catch (err) {
        await j.#lock.closeWhenSettled(() => io.close(j.#fd)).catch(() => {});
        throw err;
      }
      return j;
    } catch (err) {
      throw typed(err, 'cannot open', path);
    }
  }

  /** The journal's id (from its header; kept by compaction). */
  get id(): string {
    return this.#header.id;
  }

  /** The highest seq assigned so far, as far as this writer knows (other processes may be ahead). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  get durability(): Durability {
    return this.#o.durability;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closing !== null;
  }

  /** Appends one JSON value. Resolves with its seq once the batch is durable under the durability option. */
  append(value: unknown): Promise<AppendReceipt> {
    const refused = this.#refusal();
    if (refused !== null) return Promise.reject(refused);
    let rec: PendingRecord;
    try {
      rec = this.#prepare(value);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#submit(rec, null, recordSizeBound(rec.dataBytes), false) as Promise<AppendReceipt>;
  }

  /**
   * Appends several values as one group: they get consecutive seqs in one batch, and after a crash
   * readers see all of them or none. If any value is invalid, nothing is appended.
   */
  appendMany(values: readonly unknown[]): Promise<AppendReceipt[]> {
    if (!Array.isArray(values)) return Promise.reject(new TypeError('appendMany takes an array'));
    const refused = this.#refusal();
    if (refused !== null) return Promise.reject(refused);
    if (values.length === 0) return Promise.resolve([]);
    const recs: PendingRecord[] = new Array(values.length);
    let bytes = 0;
    try {
      const ts = Date.now();
      for (let i = 0; i < values.length; i++) {
        const r = this.#prepare(values[i], ts, i);
        recs[i] = r;
        bytes += recordSizeBound(r.dataBytes);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (bytes > this.#o.maxPendingBytes) {
      return Promise.reject(new JournalError(ErrorCode.RECORD_TOO_LARGE, `appendMany group of ${bytes} bytes exceeds maxPendingBytes (${this.#o.maxPendingBytes})`, { path: this.path }));
    }
    return this.#submit(null, recs, bytes, false) as Promise<AppendReceipt[]>;
  }

  /**
   * For restoring and replicating: appends records that keep the seqs and timestamps they already
   * have, as one all-or-nothing group. Seqs must rise, and the first must be above the journal's
   * last seq when the group is written (SEQ_CONFLICT otherwise; nothing is written). Gaps are fine.
   */
  appendRecords(records: readonly KeptRecord[]): Promise<AppendReceipt[]> {
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
    if (bytes > this.#o.maxPendingBytes) {
      return Promise.reject(new JournalError(ErrorCode.RECORD_TOO_LARGE, `appendRecords group of ${bytes} bytes exceeds maxPendingBytes (${this.#o.maxPendingBytes})`, { path: this.path }));
    }
    return this.#submit(null, recs, bytes, true) as Promise<AppendReceipt[]>;
  }

  /**
   * Resolves once everything appended before this call is written and durable, whatever the
   * durability option: with 'interval' and 'unsafe-nosync' it runs an fdatasync.
   */
  async flush(): Promise<void> {
    await this.#tail.catch(() => {});
    if (this.#failed !== null) throw this.#failedError();
    if (this.#o.durability !== 'always') await this.#syncNow();
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
    await this.#tail.catch(() => {});
    // A lock kept from the last batch goes back before anything else.
    const unlockFailed = this.#unlock();
    let err: unknown = null;
    if (this.#o.durability === 'interval' && this.#failed === null) err = await this.#syncNow().then(() => null, (e) => e);
    err ??= unlockFailed;
    if (this.#syncTimer !== null) clearTimeout(this.#syncTimer);
    await this.#syncing?.catch(() => {});
    try {
      await this.#lock.closeWhenSettled(() => io.close(this.#fd));
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
        throw new JournalError(err.code, `appendMany value [${index}]: ${err.message}`, { path: this.path, cause: err.cause });
      }
      throw err;
    }
    if (recordSizeBound(rec.dataBytes) > this.#o.maxRecordBytes) {
      const which = index >= 0 ? `appendMany value [${index}]` : 'record';
      throw new JournalError(ErrorCode.RECORD_TOO_LARGE, `${which} of ${rec.dataBytes} bytes of JSON exceeds maxRecordBytes (${this.#o.maxRecordBytes})`, { path: this.path });
    }
    return rec;
  }

  #submit(one: PendingRecord | null, many: PendingRecord[] | null, bytes: number, kept: boolean): Promise<AppendReceipt | AppendReceipt[]> {
    const p = new Promise<AppendReceipt | AppendReceipt[]>((resolve, reject) => {
      const e: Entry = { one, many, kept, bytes, resolve, reject };
      if (this.#blocked.length > 0 || (this.#queueBytes > 0 && this.#queueBytes + bytes > this.#o.maxPendingBytes)) {
        this.#blocked.push(e);
      } else {
        this.#enqueue(e);
      }
    });
    this.#tail = p;
    return p;
  }

  #enqueue(e: Entry): void {
    this.#queue.push(e);
    this.#queueBytes += e.bytes;
    if (!this.#running) {
      this.#running = true;
      // A microtask, so that appends made in the same synchronous run join this batch.
      queueMicrotask(() => void this.#run());
    }
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#commit(this.#takeBatch());
    } finally {
      this.#running = false;
    }
  }

  #takeBatch(): Entry[] {
    const q = this.#queue;
    let n = 0;
    let bytes = 0;
    // A group that keeps its own seqs goes alone: the seqs of a batch are assigned in one place.
    if (q[0]!.kept) bytes += q[n++]!.bytes;
    else while (n < q.length && !q[n]!.kept && (n === 0 || bytes + q[n]!.bytes <= this.#o.maxBatchBytes)) bytes += q[n++]!.bytes;
    const batch = n === q.length ? q : q.slice(0, n);
    this.#queue = n === q.length ? [] : q.slice(n);
    this.#queueBytes -= bytes;
    while (this.#blocked.length > 0 && this.#queueBytes + this.#blocked[0]!.bytes <= this.#o.maxPendingBytes) {
      this.#enqueue(this.#blocked.shift()!);
    }
    return batch;
  }

  async #commit(batch: Entry[]): Promise<void> {
    if (this.#failed !== null) {
      this.#unlock();
      return rejectAll(batch, this.#failedError());
    }
    const records: PendingRecord[] = [];
    for (const e of batch) {
      if (e.one !== null) records.push(e.one);
      else for (const r of e.many!) records.push(r);
    }
    let start: number;
    let firstSeq: number;
    let offsets: number[];
    let end: number;
    // Held since this writer's last batch: nobody else can have touched the file since.
    const leased = this.#lock.held;
    if (!leased) {
      try {
        await this.#lock.acquire(this.#o.lockTimeoutMs);
      } catch (err) {
        return rejectAll(batch, err);
      }
      this.#lockedAt = performance.now();
    }
    try {
      if (!leased) await this.#catchUp();
      if (batch[0]!.kept && records[0]!.seq! <= this.#lastSeq) {
        const failed = this.#unlock();
        if (failed !== null) return this.#fail(batch, failed);
        return rejectAll(batch, new JournalError(ErrorCode.SEQ_CONFLICT, `${this.path}: appendRecords: seq ${records[0]!.seq} is not above the journal's last seq ${this.#lastSeq}`, { path: this.path }));
      }
      firstSeq = batch[0]!.kept ? records[0]!.seq! : this.#lastSeq + 1;
      const enc = encodeBatch(records, firstSeq, this.#synced);
      start = this.#end;
      killPoint('before-write');
      await this.#write(enc.bytes, start);
      killPoint('after-write');
      offsets = enc.offsets;
      end = start + enc.bytes.length;
      this.#end = end;
      this.#lastSeq = records[records.length - 1]!.seq ?? firstSeq + records.length - 1;
    } catch (err) {
      this.#unlock();
      return this.#fail(batch, err);
    }
    if (this.#o.durability !== 'always' && performance.now() - this.#lockedAt < LEASE_MS) {
      this.#leaseEnd ??= setImmediate(() => {
        this.#leaseEnd = null;
        // A batch being written now decides for itself whether to keep the lock.
        if (!this.#running) this.#failed ??= this.#unlock();
      });
    } else {
      // Peers would wait on a lock that was not given back until this journal's fd is closed.
      const unlockFailed = this.#unlock();
      if (unlockFailed !== null) return this.#fail(batch, unlockFailed);
    }
    if (this.#o.durability === 'always') {
      try {
        await io.fdatasync(this.#fd);
      } catch (err) {
        return this.#fail(batch, ioError('fdatasync failed on', this.path, err, ErrorCode.SYNC_FAILED));
      }
      killPoint('after-sync');
      if (end > this.#synced) this.#synced = end;
    } else {
      this.#dirty = true;
      if (this.#o.durability === 'interval') this.#scheduleSync();
    }
    killPoint('before-ack');
    let k = 0;
    for (const e of batch) {
      if (e.one !== null) {
        e.resolve({ seq: firstSeq + k, offset: start + offsets[k]! });
        k++;
      } else {
        const receipts: AppendReceipt[] = new Array(e.many!.length);
        for (let i = 0; i < receipts.length; i++, k++) receipts[i] = { seq: e.many![i]!.seq ?? firstSeq + k, offset: start + offsets[k]! };
        e.resolve(receipts);
      }
    }
  }

  /** Writes a whole batch at `pos`; on failure removes what part of it reached the file, if it can. */
  async #write(buf: Buffer, pos: number): Promise<void> {
    let off = 0;
    try {
      while (off < buf.length) {
        // With kill points armed, the batch goes in two writes so a crash can land between them.
        const len = killPointsArmed && off === 0 && buf.length > 1 ? buf.length >> 1 : buf.length - off;
        const n = len <= SYNC_WRITE_MAX
          ? io.writeSync(this.#fd, buf, off, len, pos + off)
          : await io.write(this.#fd, buf, off, len, pos + off);
        if (n <= 0) throw new Error('write made no progress');
        off += n;
        if (killPointsArmed && off < buf.length) killPoint('mid-write');
      }
    } catch (err) {
      // Without its commit line the partial batch is a torn tail anyway; cutting it now is tidier.
      if (off > 0) await io.ftruncate(this.#fd, pos).catch(() => {});
      throw ioError('write failed on', this.path, err, ErrorCode.WRITE_FAILED);
    }
  }

  /**
   * Under the lock: makes #end/#lastSeq/#synced describe the file as it is now. Reopens the path if
   * the file was replaced (a compaction), validates bytes other writers appended, and cuts a torn
   * tail a dead writer left. Returns the torn tail it cut, if it cut one.
   */
  async #catchUp(): Promise<TornTail | null> {
    for (;;) {
      const mine = io.fstatSync(this.#fd);
      const current = io.statSync(this.path);
      if (current === null) {
        throw new JournalError(ErrorCode.NOT_FOUND, `${this.path} was removed while open`, { path: this.path });
      }
      if (current.ino !== mine.ino || current.dev !== mine.dev) {
        await this.#reopen();
        continue;
      }
      if (this.#end === mine.size) return null;
      const state = this.#end < 0 || mine.size < this.#end
        ? await scanTail(this.#fd, this.path, this.#headerEnd, mine.size, this.#o.maxRecordBytes)
        : await scanFrom(this.#fd, this.path, this.#end, this.#lastSeq, mine.size, this.#o.maxRecordBytes);
      await this.#adopt(state);
      return state.torn;
    }
  }

  async #adopt(state: TailState): Promise<void> {
    const fullRecovery = this.#end < 0;
    if (state.torn !== null) {
      try {
        await io.ftruncate(this.#fd, state.end);
      } catch (err) {
        throw ioError('cannot cut the torn tail of', this.path, err, ErrorCode.WRITE_FAILED);
      }
    }
    if (state.torn !== null || fullRecovery) {
      // The cut must be durable before anything is appended after it, and after a full recovery
      // this sync lets the next commit mark vouch for everything that is in the file.
      try {
        await io.fdatasync(this.#fd);
      } catch (err) {
        throw ioError('fdatasync failed on', this.path, err, ErrorCode.SYNC_FAILED);
      }
      this.#synced = state.end;
    }
    this.#end = state.end;
    this.#lastSeq = Math.max(this.#lastSeq, this.#header.maxSeq, state.lastSeq);
    this.#synced = Math.max(this.#synced, state.synced, this.#headerEnd);
  }

  /** The path now names another file (compaction replaced it): move to the new one. */
  async #reopen(): Promise<void> {
    const opened = await openJournalFile(this.path, 'r+');
    const oldLock = this.#lock;
    const oldFd = this.#fd;
    this.#fd = opened.fd;
    this.#lock = new FileLock(opened.fd, this.path);
    this.#header = opened.header;
    this.#headerEnd = opened.headerEnd;
    this.#end = -1;
    this.#synced = 0;
    try {
      oldLock.release();
    } finally {
      await oldLock.closeWhenSettled(() => io.close(oldFd)).catch(() => {});
    }
    await syncNameOf(this.path);
    await this.#lock.acquire(this.#o.lockTimeoutMs);
  }

  /** Releases the writers' lock, returning a failure instead of throwing it: the batch must still be settled. */
  #unlock(): JournalError | null {
    if (this.#leaseEnd !== null) {
      clearImmediate(this.#leaseEnd);
      this.#leaseEnd = null;
    }
    try {
      this.#lock.release();
      return null;
    } catch (err) {
      // The lock may still be held, and every other writer of the journal would wait on it until
      // this instance is closed: close it now (closing the fd releases the lock). Its failure is
      // reported by close().
      this.close().catch(() => {});
      return err instanceof JournalError ? err : ioError('cannot release the lock on', this.path, err);
    }
  }

  #fail(batch: Entry[], err: unknown): void {
    const e = err instanceof JournalError ? err : ioError('failed on', this.path, err);
    // A lock timeout or an abort leaves the journal usable; anything that may have touched the file does not.
    if (e.code !== ErrorCode.LOCK_TIMEOUT) {
      this.#failed ??= e;
      const rest = this.#queue.concat(this.#blocked);
      this.#queue = [];
      this.#blocked = [];
      this.#queueBytes = 0;
      rejectAll(rest, this.#failedError());
    }
    rejectAll(batch, e);
  }

  #scheduleSync(): void {
    if (this.#syncTimer !== null) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = null;
      this.#syncNow().catch(() => {});
    }, this.#o.syncIntervalMs);
    this.#syncTimer.unref();
  }

  /** One fdatasync of everything written so far; a failure fails the journal. */
  async #syncNow(): Promise<void> {
    if (this.#syncing !== null) await this.#syncing.catch(() => {});
    if (!this.#dirty) return;
    if (this.#failed !== null) throw this.#failedError();
    const end = this.#end;
    this.#dirty = false;
    this.#syncing = io.fdatasync(this.#fd).then(() => {
      if (end > this.#synced) this.#synced = end;
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

/**
 * fsyncs the journal's directory, so that the name -> file link this writer is about to append to
 * is durable before any append to it is acknowledged. A compactor makes its rename durable itself,
 * but one killed between its rename and its directory fsync leaves a name that a power loss could
 * still turn back to the old file, without what was appended to the new one since.
 */
async function syncNameOf(file: string): Promise<void> {
  try {
    await io.fsyncDir(dirOf(file));
  } catch (err) {
    throw ioError('cannot fsync the directory of', file, err, ErrorCode.SYNC_FAILED);
  }
}

function rejectAll(entries: Entry[], err: unknown): void {
  for (const e of entries) e.reject(err);
}
