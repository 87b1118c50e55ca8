/**
 * The journal file as one writer sees it: where committed data ends, the last seq, what is known
 * durable. Under the writers' lock, catchUp() makes that true of the file as it is now, whatever
 * other writers, a crash or a compaction did to it.
 */
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { isVersion2, type Header } from '../format/header.js';
import { syncDirOf } from '../fs/durable.js';
import { io } from '../fs/io.js';
import { FileLock } from '../fs/lock.js';
import type { TornTail } from '../scan/batches.js';
import { openJournalFile } from '../scan/open.js';
import { findLine } from '../scan/seek.js';
import { recoverTail, scanAppended, type TailState } from '../scan/tail.js';
import { saveCut } from './cuts.js';

/** A torn tail a writer cut, and where its bytes were saved first. */
export interface RecoveredTail extends TornTail {
  /** The file holding the bytes that were cut (see cutsDir). */
  savedTo: string;
}

export class WriterFile {
  readonly path: string;
  readonly #lockTimeoutMs: number;
  readonly #maxLineBytes: number;
  #fd: number;
  #lock: FileLock;
  #header: Header;
  #headerEnd: number;
  /** End of the last committed batch: the file holds nothing but committed batches up to it. -1 until a full recovery has run. */
  #end = -1;
  /** The highest seq ever assigned in this journal, as far as this writer knows. */
  #lastSeq = 0;
  /** Every byte before this offset is known durable: the `synced` the next commit mark carries. */
  #synced = 0;
  /** The highest ts in the journal as far as this writer knows: timestamps never go back below it. */
  #lastTs = 0;
  /** Whether the file ends with a seal, so every batch in it is vouched for. */
  #sealed = false;
  /** With `trackFirstTs`: the ts of the file's first record (null: none yet), for retention by age. */
  #firstTs: number | null = null;
  readonly #trackFirstTs: boolean;

  private constructor(path: string, fd: number, header: Header, headerEnd: number, lockTimeoutMs: number, maxLineBytes: number, trackFirstTs: boolean) {
    this.path = path;
    this.#fd = fd;
    this.#lock = new FileLock(fd, path);
    this.#header = header;
    this.#headerEnd = headerEnd;
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#maxLineBytes = maxLineBytes;
    this.#trackFirstTs = trackFirstTs;
  }

  static async open(path: string, lockTimeoutMs: number, maxLineBytes: number, trackFirstTs = false): Promise<WriterFile> {
    const { fd, header, headerEnd } = await openJournalFile(path, 'r+');
    return new WriterFile(path, fd, header, headerEnd, lockTimeoutMs, maxLineBytes, trackFirstTs);
  }

  /** The ts of the file's first record, or null if it has none (known only with trackFirstTs). */
  get firstTs(): number | null {
    return this.#firstTs;
  }

  get fd(): number {
    return this.#fd;
  }

  get lock(): FileLock {
    return this.#lock;
  }

  get header(): Header {
    return this.#header;
  }

  get end(): number {
    return this.#end;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  get synced(): number {
    return this.#synced;
  }

  get lastTs(): number {
    return this.#lastTs;
  }

  /** Whether the journal's format has seals (version 2): a version 1 journal stays as version 1 writes it. */
  get seals(): boolean {
    return isVersion2(this.#header);
  }

  /** The file ends with a seal, or holds no record to vouch for. */
  get sealed(): boolean {
    return this.#sealed || this.#end <= this.#headerEnd;
  }

  /** A batch was written at the end, up to `end`, its last seq `lastSeq` and last ts `lastTs`. */
  appended(end: number, lastSeq: number, lastTs: number, firstTs: number): void {
    if (this.#firstTs === null && this.#trackFirstTs) this.#firstTs = firstTs;
    this.#end = end;
    this.#lastSeq = lastSeq;
    if (lastTs > this.#lastTs) this.#lastTs = lastTs;
    this.#sealed = false;
  }

  /** A seal was written at the end, up to `end`. */
  sealedTo(end: number): void {
    this.#end = end;
    this.#sealed = true;
  }

  /** Everything before `offset` is now durable (an fdatasync that began after it was written returned). */
  durableTo(offset: number): void {
    if (offset > this.#synced) this.#synced = offset;
  }

  /**
   * Under the lock: brings end, lastSeq and synced up to date with the file. Reopens the path if
   * the file was replaced (a compaction), validates bytes other writers appended, and cuts a torn
   * tail a dead writer left, after saving its bytes. Returns the torn tail it cut, if it cut one.
   */
  async catchUp(): Promise<RecoveredTail | null> {
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
        ? await recoverTail(this.#fd, this.path, this.#headerEnd, mine.size, this.#maxLineBytes, this.seals)
        : await scanAppended(this.#fd, this.path, this.#end, this.#lastSeq, mine.size, this.#maxLineBytes, this.seals);
      return this.#takeState(state, mine.size);
    }
  }

  /** Closes the file once no lock wait is in flight on it (which also gives back a lock held). */
  close(): Promise<void> {
    return this.#lock.closeWhenSettled(() => io.close(this.#fd));
  }

  /** Makes what a scan of the tail found this writer's view, cutting a torn tail (saved first). */
  async #takeState(state: TailState, size: number): Promise<RecoveredTail | null> {
    const fullRecovery = this.#end < 0;
    const before = this.#end;
    let recovered: RecoveredTail | null = null;
    if (state.torn !== null) {
      recovered = { ...state.torn, savedTo: await saveCut(this.path, this.#fd, state.end, size) };
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
    this.#lastTs = Math.max(this.#lastTs, state.lastTs);
    this.#synced = Math.max(this.#synced, state.synced, this.#headerEnd);
    // A scan that committed nothing new leaves the file ending as this writer knew it.
    this.#sealed = state.sealed || (this.#sealed && state.end === before);
    if (fullRecovery && this.#trackFirstTs) {
      const first = await findLine(this.#fd, this.#headerEnd - 1, state.end, this.#maxLineBytes * 2, (env) => env.commit !== 0);
      this.#firstTs = first?.env.ts ?? null;
    }
    return recovered;
  }

  /** The path now names another file (compaction replaced it): move to the new one, and take its lock. */
  async #reopen(): Promise<void> {
    const opened = await openJournalFile(this.path, 'r+');
    const oldLock = this.#lock;
    const oldFd = this.#fd;
    this.#fd = opened.fd;
    this.#lock = new FileLock(opened.fd, this.path);
    this.#header = opened.header;
    this.#headerEnd = opened.headerEnd;
    // The new file says what was assigned: a compaction carried every seq over, and a truncation
    // meant the seqs after its point to be assigned again.
    this.#end = -1;
    this.#synced = 0;
    this.#lastSeq = 0;
    this.#lastTs = 0;
    this.#sealed = false;
    try {
      oldLock.release();
    } finally {
      await oldLock.closeWhenSettled(() => io.close(oldFd)).catch(() => {});
    }
    // A compactor killed between its rename and its directory fsync leaves a name that a power
    // loss could still turn back to the old file: make it durable before appending to the new one.
    await syncDirOf(this.path);
    await this.#lock.acquire(this.#lockTimeoutMs);
  }
}
