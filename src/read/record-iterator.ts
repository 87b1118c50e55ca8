/** What readJournal and follow share: an async iterator handing out committed records a batch at a time. */
import type { DataMode } from '../format/envelope.js';
import { canReadExactIntegers } from '../format/json.js';

export type { DataMode };

/**
 * A record as read back. `T` is the type the caller says its data has; nothing checks it (see
 * docs/api.md, "Typed records").
 */
export interface JournalRecord<T = unknown> {
  seq: number;
  /** Append time, ms since the epoch. */
  ts: number;
  data: T;
  /** Byte offset of the record's line in the file. */
  offset: number;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * The `data` option of readers: what a record's data is handed out as. 'value': parsed. 'text':
 * the JSON text as stored, exactly (numbers digit for digit). 'bigint': parsed, with integers that
 * a double cannot hold exactly as BigInt; it needs JSON.parse's source text access (Node 22 on).
 */
export function checkDataMode(mode: unknown): DataMode {
  if (mode === undefined) return 'value';
  if (mode !== 'value' && mode !== 'text' && mode !== 'bigint') throw new TypeError(`data must be 'value', 'text' or 'bigint', not ${String(mode)}`);
  if (mode === 'bigint' && !canReadExactIntegers) {
    throw new TypeError(`data: 'bigint' needs JSON.parse to give revivers the source text (Node 22 or later, or node --harmony-json-parse-with-source); data: 'text' gives the exact text on every Node`);
  }
  return mode;
}

export abstract class RecordIterator<T = unknown> implements AsyncIterableIterator<JournalRecord<T>>, AsyncDisposable {
  readonly #signal: AbortSignal | undefined;
  /**
   * Records being handed out; each slot is emptied as its record goes, so that a record the caller
   * is done with can be collected young instead of living until the batch's end.
   */
  #batch: (JournalRecord<T> | undefined)[] = [];
  #i = 0;

  constructor(signal: AbortSignal | undefined) {
    this.#signal = signal;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<JournalRecord<T>>> {
    const batch = this.#batch;
    const i = this.#i;
    if (i < batch.length && !this.#signal?.aborted) {
      const value = batch[i]!;
      batch[i] = undefined;
      this.#i = i + 1;
      return Promise.resolve({ value, done: false });
    }
    return this.fill();
  }

  async return(): Promise<IteratorResult<JournalRecord<T>>> {
    await this.close();
    return DONE;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Gets the next batch of records and returns the first, or the end. */
  protected abstract fill(): Promise<IteratorResult<JournalRecord<T>>>;

  /** Releases the file and whatever else the iterator holds; safe to call twice. */
  protected abstract close(): Promise<void>;

  /**
   * Hands out `records` from index `from` on: returns the first, keeps the rest for next(). Here
   * the parsed data becomes the caller's T, taken on the caller's word.
   */
  protected handOut(records: (JournalRecord | undefined)[], from: number): IteratorResult<JournalRecord<T>> {
    const value = records[from] as JournalRecord<T>;
    records[from] = undefined;
    this.#batch = records as (JournalRecord<T> | undefined)[];
    this.#i = from + 1;
    return { value, done: false };
  }

  /** Drops the records not handed out yet. */
  protected dropBatch(): IteratorReturnResult<undefined> {
    this.#batch = [];
    this.#i = 0;
    return DONE;
  }
}
