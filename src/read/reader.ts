/**
 * readJournal(): replay of a journal's committed records, in bounded memory. A torn tail ends the
 * iteration quietly; damage before durable data throws CORRUPT (or, with `corrupt: 'skip'`, is
 * reported and stepped over).
 */
import { JournalError, ioError } from '../errors.js';
import { isVersion2, type Header } from '../format/header.js';
import { MAX_LINE_BYTES } from '../format/limits.js';
import { io } from '../fs/io.js';
import type { Damage, TornTail } from '../scan/batches.js';
import { openJournalFile } from '../scan/open.js';
import { JournalScan } from '../scan/scan.js';
import { CommittedLines } from './committed-lines.js';
import { countOption, inRange, msOf, pastRange, startOf, type Range, type TimeOption } from './range.js';
import { checkDataMode, RecordIterator, type DataMode, type JournalRecord } from './record-iterator.js';

export type { DataMode, JournalRecord };

export interface ReadOptions {
  /** Start at the first record with seq >= fromSeq, found by bisection (O(log n) reads). */
  fromSeq?: number;
  /**
   * Only records with ts >= fromTs (ms since the epoch, or a Date). In a version 2 journal, where
   * timestamps never go back, the first is found by bisection and the read starts there.
   */
  fromTs?: TimeOption;
  /** Only records with ts <= untilTs; in a version 2 journal the read ends at the first record past it. */
  untilTs?: TimeOption;
  /** Only the last `last` records (of those in the other bounds' range), found by reading from the end; 0: none. */
  last?: number;
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
  /** What each record's data is: 'value' (parsed), 'text' (the JSON exactly as stored) or 'bigint'. @default 'value' */
  data?: DataMode;
}

export class JournalReader<T = unknown> extends RecordIterator<T> {
  readonly path: string;
  readonly #range: Range;
  /** Whether the range has bounds besides fromSeq, so that each record is checked against it. */
  readonly #bounded: boolean;
  readonly #last: number | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #skip: boolean;
  readonly #onCorrupt: ((d: Damage) => void) | undefined;
  readonly #maxLine: number;
  readonly #data: DataMode;
  #fd = -1;
  #header: Header | null = null;
  #scan: JournalScan | null = null;
  /** Unless damage is skipped: the committed lines of the chunk read last, decoded as handed out. */
  #lines: CommittedLines | null = null;
  /** A record past the range was met: nothing more is handed out. */
  #past = false;
  #reported = 0;
  #done = false;
  /** Corruption found while records before it are still to be handed out. */
  #error: unknown = null;
  #torn: TornTail | null = null;

  constructor(path: string, opts: ReadOptions = {}) {
    super(opts.signal);
    if (opts.fromSeq !== undefined && !(Number.isSafeInteger(opts.fromSeq) && opts.fromSeq >= 1)) {
      throw new RangeError('fromSeq must be a positive integer');
    }
    if (opts.corrupt !== undefined && opts.corrupt !== 'throw' && opts.corrupt !== 'skip') {
      throw new TypeError(`corrupt must be 'throw' or 'skip'`);
    }
    this.path = path;
    this.#range = {
      fromSeq: opts.fromSeq ?? 1,
      untilSeq: Number.POSITIVE_INFINITY,
      fromTs: msOf('fromTs', opts.fromTs) ?? Number.NEGATIVE_INFINITY,
      untilTs: msOf('untilTs', opts.untilTs) ?? Number.POSITIVE_INFINITY,
    };
    this.#last = countOption('last', opts.last);
    this.#bounded = opts.fromTs !== undefined || opts.untilTs !== undefined || this.#last !== undefined;
    this.#signal = opts.signal;
    this.#skip = opts.corrupt === 'skip';
    this.#onCorrupt = opts.onCorrupt;
    this.#maxLine = opts.maxLineBytes ?? MAX_LINE_BYTES;
    this.#data = checkDataMode(opts.data);
  }

  /** The journal's header; null until the first record (or the end) has been read. */
  get header(): Header | null {
    return this.#header;
  }

  /** The torn tail the read ended at, if any (known once the iteration is done). */
  get tornTail(): TornTail | null {
    return this.#torn;
  }

  override next(): Promise<IteratorResult<JournalRecord<T>>> {
    if (this.#lines === null || this.#signal?.aborted) return super.next();
    let value: JournalRecord<T> | undefined;
    try {
      value = this.#nextLine();
    } catch (err) {
      return this.close().then(() => Promise.reject(err));
    }
    return value !== undefined ? Promise.resolve({ value, done: false }) : this.fill();
  }

  protected async fill(): Promise<IteratorResult<JournalRecord<T>>> {
    try {
      if (this.#fd < 0 && !this.#done) await this.#open();
      if (this.#lines !== null) return await this.#fillLines(this.#lines);
      for (;;) {
        if (this.#error !== null) throw this.#error;
        if (this.#done || this.#signal?.aborted) {
          await this.close();
          return this.dropBatch();
        }
        const scan = this.#scan!;
        await this.#step(scan);
        const out = scan.take();
        if (this.#bounded) {
          const kept = this.#keep(out);
          if (kept.length > 0) return this.handOut(kept, 0);
          continue;
        }
        let i = 0;
        while (i < out.length && out[i]!.seq < this.#range.fromSeq) i++;
        if (i < out.length) return this.handOut(out, i);
      }
    } catch (err) {
      await this.close();
      if (err instanceof JournalError) throw err;
      throw ioError('cannot read', this.path, err);
    }
  }

  /** fill() when records are decoded as handed out: reads chunks until one commits a record to hand out. */
  async #fillLines(lines: CommittedLines): Promise<IteratorResult<JournalRecord<T>>> {
    const scan = this.#scan!;
    for (;;) {
      const value = this.#signal?.aborted ? undefined : this.#nextLine();
      if (value !== undefined) return { value, done: false };
      if (this.#error !== null) throw this.#error;
      if (this.#done || this.#past || this.#signal?.aborted) {
        await this.close();
        return this.dropBatch();
      }
      lines.nextChunk();
      await this.#step(scan);
    }
  }

  /** Reads and scans the next chunk; at the end, notes the torn tail. */
  async #step(scan: JournalScan): Promise<void> {
    let n: number;
    try {
      n = await scan.step();
    } catch (err) {
      // Records committed before the damage are still handed out first.
      this.#error = err;
      n = -1;
    }
    this.#report(scan);
    if (n === 0) {
      this.#torn = scan.finish(scan.pos);
      this.#done = true;
    }
  }

  /** The next record of the chunk read last that is in the range, or undefined. */
  #nextLine(): JournalRecord<T> | undefined {
    // Closed (a break, an abort): nothing more, though the chunk read last has records left.
    if (this.#past || this.#fd < 0) return undefined;
    const lines = this.#lines!;
    const range = this.#range;
    for (let r = lines.next(); r !== undefined; r = lines.next()) {
      if (!this.#bounded) {
        // The record type is the caller's word, as where records are handed out from an array.
        if (r.seq >= range.fromSeq) return r as JournalRecord<T>;
      } else if (pastRange(r, range, isVersion2(this.#header!))) {
        this.#past = true;
        return undefined;
      } else if (inRange(r, range)) {
        return r as JournalRecord<T>;
      }
    }
    return undefined;
  }

  async #open(): Promise<void> {
    const { fd, header, headerEnd } = await openJournalFile(this.path, 'r');
    this.#fd = fd;
    this.#header = header;
    const start = await startOf(fd, this.path, header, headerEnd, io.fstatSync(fd).size, this.#range, this.#last, this.#maxLine, this.#skip);
    const common = {
      path: this.path, from: start, firstLine: start === headerEnd ? 2 : null, midBatch: start !== headerEnd,
      seals: isVersion2(header), readAhead: true, maxLineBytes: this.#maxLine,
    };
    if (this.#skip) {
      this.#scan = new JournalScan(fd, { ...common, onCorrupt: 'report', decode: 'data', dataMode: this.#data });
      return;
    }
    // The scan checks frames and finds commit marks only; records are parsed as they are handed out.
    const lines = this.#lines = new CommittedLines(this.path, start, this.#data, (a, b) => this.#scan!.view(a, b));
    this.#scan = new JournalScan(fd, {
      ...common, onCorrupt: 'throw', decode: 'marks', collect: false,
      onRecord: (offset, lf, env) => lines.record(offset, lf, env),
      onBatch: (_records, end, _lastLine, count) => lines.commit(end, count),
      onFed: (fedTo) => lines.fed(fedTo),
    });
  }

  /** The records of a batch in the range; the read is done once one is past it. */
  #keep(records: JournalRecord[]): JournalRecord[] {
    const kept: JournalRecord[] = [];
    const v2 = isVersion2(this.#header!);
    for (const r of records) {
      if (pastRange(r, this.#range, v2)) {
        this.#done = true;
        break;
      }
      if (inRange(r, this.#range)) kept.push(r);
    }
    return kept;
  }

  #report(scan: JournalScan): void {
    const found = scan.corrupt;
    while (this.#reported < found.length) {
      const d = found[this.#reported++]!;
      this.#onCorrupt?.(d);
    }
  }

  protected async close(): Promise<void> {
    this.#done = true;
    this.dropBatch();
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    await this.#scan?.settle();
    await io.close(fd).catch(() => {});
  }
}

/**
 * Replays the committed records of the journal at `path`, from the top or from `fromSeq`. `T` is
 * the type of the records' data, as the caller says; nothing checks it.
 *
 *   for await (const rec of readJournal<OrderEvent>(path)) { rec.seq; rec.ts; rec.data; rec.offset }
 */
export function readJournal<T = unknown>(path: string, opts?: ReadOptions & { data?: 'value' | 'bigint' }): JournalReader<T>;
/** With `data: 'text'`, each record's data is its JSON text, a string. */
export function readJournal(path: string, opts: ReadOptions & { data: 'text' }): JournalReader<string>;
/** With a data mode known only at run time, each record's data is a T, or its JSON text with `data: 'text'`. */
export function readJournal<T = unknown>(path: string, opts?: ReadOptions): JournalReader<T | string>;
export function readJournal(path: string, opts?: ReadOptions): JournalReader {
  if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
  return new JournalReader(path, opts);
}
