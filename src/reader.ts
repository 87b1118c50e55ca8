/**
 * Streaming replay of a journal: an async iterator of committed records, in bounded memory.
 * Each line's checksum is checked on its bytes before it is parsed; a torn tail ends the iteration
 * quietly; damage before durable data throws CORRUPT (or, with `corrupt: 'skip'`, is reported and
 * stepped over). No record of an unfinished batch is ever yielded.
 */
import { JournalError, ioError } from './errors.js';
import { openJournalFile } from './file.js';
import type { Header } from './format.js';
import { io } from './io.js';
import { LineFeeder } from './lines.js';
import { BatchScanner, type Damage, type ScannedRecord, type TornTail } from './scan.js';
import { seekSeq } from './seek.js';

/** A record as read back. */
export interface JournalRecord {
  seq: number;
  /** Append time, ms since the epoch. */
  ts: number;
  data: unknown;
  /** Byte offset of the record's line in the file. */
  offset: number;
}

export interface ReadOptions {
  /** Start at the first record with seq >= fromSeq, found by bisection (O(log n) reads). */
  fromSeq?: number;
  /** Ends the iteration (without an error) when aborted. */
  signal?: AbortSignal;
  /**
   * Damage before durable data: 'throw' ends the iteration with a CORRUPT JournalError (the
   * default); 'skip' reports each damaged line to onCorrupt and yields the intact records around it.
   * @default 'throw'
   */
  corrupt?: 'throw' | 'skip';
  onCorrupt?: (damage: Damage) => void;
  /** Longest line accepted; a longer one is damage. @default 16 MiB + 1 KiB */
  maxLineBytes?: number;
}

export const DEFAULT_MAX_LINE = 16 * 1024 * 1024 + 1024;
/** Below Node's ~1 MB threshold for external strings, which GC frees late and would inflate RSS. */
const CHUNK = 512 * 1024;

export class JournalReader implements AsyncIterableIterator<JournalRecord>, AsyncDisposable {
  readonly path: string;
  readonly #fromSeq: number;
  readonly #signal: AbortSignal | undefined;
  readonly #skip: boolean;
  readonly #onCorrupt: ((d: Damage) => void) | undefined;
  readonly #maxLine: number;
  #fd = -1;
  #header: Header | null = null;
  #feeder: LineFeeder | null = null;
  #scanner: BatchScanner | null = null;
  /**
   * Committed records being handed out; each slot is emptied as its record goes, so that a record
   * the caller is done with can be collected young instead of living until the batch's end.
   */
  #batch: (ScannedRecord | undefined)[] = [];
  #i = 0;
  #reported = 0;
  #done = false;
  /** Corruption found while records before it are still to be handed out. */
  #error: unknown = null;
  #torn: TornTail | null = null;

  constructor(path: string, opts: ReadOptions = {}) {
    if (opts.fromSeq !== undefined && !(Number.isSafeInteger(opts.fromSeq) && opts.fromSeq >= 1)) {
      throw new RangeError('fromSeq must be a positive integer');
    }
    if (opts.corrupt !== undefined && opts.corrupt !== 'throw' && opts.corrupt !== 'skip') {
      throw new TypeError(`corrupt must be 'throw' or 'skip'`);
    }
    this.path = path;
    this.#fromSeq = opts.fromSeq ?? 1;
    this.#signal = opts.signal;
    this.#skip = opts.corrupt === 'skip';
    this.#onCorrupt = opts.onCorrupt;
    this.#maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE;
  }

  /** The journal's header; null until the first record (or the end) has been read. */
  get header(): Header | null {
    return this.#header;
  }

  /** The torn tail the read ended at, if any (known once the iteration is done). */
  get tornTail(): TornTail | null {
    return this.#torn;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<JournalRecord>> {
    const batch = this.#batch;
    const i = this.#i;
    if (i < batch.length && !this.#signal?.aborted) {
      const value = batch[i]!;
      batch[i] = undefined;
      this.#i = i + 1;
      return Promise.resolve({ value, done: false });
    }
    return this.#fill();
  }

  async return(): Promise<IteratorResult<JournalRecord>> {
    await this.#close();
    return { value: undefined, done: true };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#close();
  }

  async #fill(): Promise<IteratorResult<JournalRecord>> {
    try {
      if (this.#fd < 0 && !this.#done) await this.#open();
      for (;;) {
        if (this.#error !== null) throw this.#error;
        if (this.#done || this.#signal?.aborted) {
          await this.#close();
          return { value: undefined, done: true };
        }
        const scanner = this.#scanner!;
        let n: number;
        try {
          n = await this.#feeder!.step(scanner);
        } catch (err) {
          // Records committed before the damage are still handed out first.
          this.#error = err;
          n = -1;
        }
        this.#report(scanner);
        if (n === 0) {
          this.#torn = scanner.finish(this.#feeder!.pos);
          this.#done = true;
        }
        const out: (ScannedRecord | undefined)[] = scanner.out;
        scanner.out = [];
        let i = 0;
        while (i < out.length && out[i]!.seq < this.#fromSeq) i++;
        if (i < out.length) {
          const value = out[i]!;
          out[i] = undefined;
          this.#batch = out;
          this.#i = i + 1;
          return { value, done: false };
        }
      }
    } catch (err) {
      await this.#close();
      if (err instanceof JournalError) throw err;
      throw ioError('cannot read', this.path, err);
    }
  }

  async #open(): Promise<void> {
    const { fd, header, headerEnd } = await openJournalFile(this.path, 'r');
    this.#fd = fd;
    this.#header = header;
    let start = headerEnd;
    let firstLine: number | null = 2;
    if (this.#fromSeq > 1) {
      start = await seekSeq(fd, headerEnd, io.fstatSync(fd).size, this.#fromSeq, this.#maxLine);
      if (start !== headerEnd) firstLine = null;
    }
    this.#scanner = new BatchScanner(start, {
      path: this.path, prevSeq: 0, firstLine, midBatch: start !== headerEnd,
      onCorrupt: this.#skip ? 'report' : 'throw', collect: true,
    });
    this.#feeder = new LineFeeder(fd, start, CHUNK, this.#maxLine, { readAhead: true });
  }

  #report(scanner: BatchScanner): void {
    while (this.#reported < scanner.corrupt.length) {
      const d = scanner.corrupt[this.#reported++]!;
      this.#onCorrupt?.(d);
    }
  }

  async #close(): Promise<void> {
    this.#done = true;
    this.#batch = [];
    this.#i = 0;
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    await this.#feeder?.settle();
    await io.close(fd).catch(() => {});
  }
}

/**
 * Replays the committed records of the journal at `path`, from the top or from `fromSeq`.
 *
 *   for await (const rec of readJournal(path)) { rec.seq; rec.ts; rec.data; rec.offset }
 */
export function readJournal(path: string, opts?: ReadOptions): JournalReader {
  if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
  return new JournalReader(path, opts);
}

