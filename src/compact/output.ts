/**
 * The new file a compaction writes: a locked temp beside the journal, filled in order from buffers
 * while the next input is read, with its writeback started early so that the fsync before the
 * swap finds little left to write.
 */
import { ErrorCode, ioError } from '../errors.js';
import { encodeHeader, isVersion2, type Header } from '../format/header.js';
import { encodeSeal } from '../format/seal.js';
import { fsyncFile, writeAll } from '../fs/durable.js';
import { io } from '../fs/io.js';
import { killPoint } from '../fs/kill-points.js';
import { closeTemp, createTemp, type Temp } from '../fs/temps.js';

/** Output is written in pieces of about this size. */
const WRITE_BYTES = 1024 * 1024;
/**
 * Once this much has been written since the last, a sync of the temp starts in the background,
 * while the copy goes on. Nothing depends on it for safety (the temp is fsynced before the rename
 * in any case): it starts the writeback early, so that the copy and the disk work at once.
 */
const SYNC_AHEAD_BYTES = 32 * 1024 * 1024;

export class CompactionOutput {
  readonly #temp: Temp;
  /** The header as written first; finish() may write another of the same length over it. */
  #header: Buffer = Buffer.alloc(0);
  /** Bytes of the new file produced so far (some may still be in #out or being written). */
  #pos = 0;
  /** Where the batch being copied starts in the new file: its commit mark vouches for all before it. */
  #batchStart = 0;
  /** Output waiting to be written. */
  #out: Buffer = Buffer.allocUnsafe(WRITE_BYTES);
  #outBytes = 0;
  /**
   * Output buffers whose writes are done, for reuse: a new buffer per write costs page faults and
   * zeroing in the kernel on first touch, on the same thread that checks every line.
   */
  readonly #spare: Buffer[] = [];
  /** The write in flight: the next chunk is read while it runs. */
  #writing: Promise<void> = Promise.resolve();
  /** The end of what has been handed to #writing: past #pos when output was taken back. */
  #fileEnd = 0;
  /** Bytes handed to #writing since the last background sync started. */
  #unsynced = 0;
  /** The background sync in flight; it never rejects, see #syncError. */
  #syncing: Promise<void> | null = null;
  /** Why a background sync failed: the temp's data may then be lost, whatever a later fsync says. */
  #syncError: unknown = null;

  private constructor(temp: Temp) {
    this.#temp = temp;
  }

  /** Creates the temp beside `journal` and writes `header` to it. */
  static async create(journal: string, header: Header): Promise<CompactionOutput> {
    const out = new CompactionOutput(await createTemp(journal, 'compact'));
    try {
      const head = encodeHeader(header);
      out.#header = head;
      await out.#writeOut(head, 0);
      out.#pos = head.length;
      out.#batchStart = out.#pos;
      return out;
    } catch (err) {
      await closeTemp(out.#temp, false);
      throw err;
    }
  }

  get path(): string {
    return this.#temp.path;
  }

  /** Bytes of the new file so far. */
  get pos(): number {
    return this.#pos;
  }

  /** Where the batch being copied starts in the new file. */
  get batchStart(): number {
    return this.#batchStart;
  }

  /** The batch being copied is complete: the next one starts here. */
  endBatch(): void {
    this.#batchStart = this.#pos;
  }

  /**
   * Takes back what was put out since the last complete batch: the lines of a batch that did not
   * commit before the end of the range read. Bytes of it already written stay past pos, to be
   * written over or cut off before the temp is synced for the last time.
   */
  takeBackUnfinished(): void {
    const extra = this.#pos - this.#batchStart;
    if (extra === 0) return;
    this.#outBytes -= Math.min(extra, this.#outBytes);
    this.#pos = this.#batchStart;
  }

  /** Adds `piece` to the output, across as many buffers as it fills (a batch can be larger than one). */
  emit(piece: Uint8Array): void {
    for (let at = 0; at < piece.length;) {
      if (this.#outBytes === this.#out.length) this.flush();
      const n = Math.min(piece.length - at, this.#out.length - this.#outBytes);
      this.#out.set(n === piece.length ? piece : piece.subarray(at, at + n), this.#outBytes);
      this.#outBytes += n;
      this.#pos += n;
      at += n;
    }
  }

  /** Starts writing the output once half a buffer is gathered. */
  flushIfHalfFull(): void {
    if (this.#outBytes >= WRITE_BYTES / 2) this.flush();
  }

  /** Starts writing the output gathered so far, after the write before it. */
  flush(): void {
    if (this.#outBytes === 0) return;
    const out = this.#out;
    const bytes = out.subarray(0, this.#outBytes);
    const pos = this.#pos - this.#outBytes;
    this.#fileEnd = Math.max(this.#fileEnd, this.#pos);
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
      const fd = this.#temp.fd;
      this.#syncing = this.#writing
        .then(() => io.fdatasync(fd).catch((err: unknown) => void (this.#syncError ??= err)), () => {
          // The failed write is reported where #writing is awaited; there is nothing to sync after it.
        })
        .finally(() => (this.#syncing = null));
    }
  }

  /** Writes out what is gathered and waits for every write. */
  async drain(): Promise<void> {
    this.flush();
    await this.#writing;
  }

  /**
   * Ends the new file with `header` (whose length must not differ from the one it was created
   * with) and, in format version 2, a seal: the whole file is fsynced before anyone can read it,
   * so the seal vouches for every byte before it. Cuts what was written past the end (a batch
   * taken back), then makes the whole file durable.
   */
  async finish(header: Header): Promise<void> {
    if (isVersion2(header)) {
      this.emit(encodeSeal(this.#pos));
      this.endBatch();
    }
    await this.drain();
    const head = encodeHeader(header);
    if (!head.equals(this.#header)) {
      if (head.length !== this.#header.length) throw new Error('internal: the final header differs in length from the first');
      await this.#writeOut(head, 0);
    }
    if (this.#fileEnd > this.#pos) {
      try {
        await io.ftruncate(this.#temp.fd, this.#pos);
      } catch (err) {
        throw ioError('cannot truncate', this.#temp.path, err);
      }
    }
    await this.sync();
  }

  /** fsyncs the temp; fails if a background sync failed (its pages may be gone, whatever this fsync says). */
  async sync(): Promise<void> {
    await this.#syncing;
    if (this.#syncError !== null) throw ioError('cannot fsync', this.#temp.path, this.#syncError, ErrorCode.SYNC_FAILED);
    await fsyncFile(this.#temp.fd, this.#temp.path);
  }

  /** Gives back the temp's lock: once renamed into place, it is the new journal's writers' lock. */
  releaseLock(): void {
    this.#temp.lock.release();
  }

  /** Closes the temp; removes it unless it was renamed into place. */
  async close(renamed: boolean): Promise<void> {
    // A write or sync may still be in flight after a failure: the fd must outlive it (its number could be reused).
    await this.#writing.catch(() => {});
    await this.#syncing;
    await closeTemp(this.#temp, renamed);
  }

  #writeOut(bytes: Buffer, pos: number): Promise<void> {
    return writeAll(this.#temp.fd, bytes, pos, this.#temp.path, { afterWrite: () => killPoint('compact-copying') });
  }
}
