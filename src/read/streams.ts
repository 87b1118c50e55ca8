/**
 * Readable streams of a journal's records, for pipeline(): createReadStream (readJournal) and
 * createFollowStream (follow). Object mode; each chunk is one record, `{ seq, ts, data, offset }`.
 */
import { Readable } from 'node:stream';
import { follow, type FollowOptions } from './follow.js';
import { readJournal, type ReadOptions } from './reader.js';

export interface StreamOptions {
  /** Records read ahead of the consumer before reading pauses. @default 256 */
  highWaterMark?: number;
}

function toStream(records: AsyncIterable<unknown>, hwm: number | undefined, signal: AbortSignal | undefined): Readable {
  const highWaterMark = hwm ?? 256;
  if (!Number.isSafeInteger(highWaterMark) || highWaterMark < 1) throw new RangeError('highWaterMark must be a positive integer');
  // Readable.from pulls a record only when the buffer is below highWaterMark, and destroy() returns
  // the iterator, which closes the file: the reader's own batching does the rest.
  return Readable.from(records, { objectMode: true, highWaterMark, ...(signal !== undefined ? { signal } : {}) });
}

/** readJournal as a Readable: every committed record, then the end. Damage is an 'error' event. */
export function createReadStream(path: string, opts: ReadOptions & StreamOptions = {}): Readable {
  const { highWaterMark, ...read } = opts;
  return toStream(readJournal(path, read), highWaterMark, opts.signal);
}

/** follow as a Readable: it does not end by itself; destroy it, or abort its signal. */
export function createFollowStream(path: string, opts: FollowOptions & StreamOptions = {}): Readable {
  const { highWaterMark, ...rest } = opts;
  return toStream(follow(path, rest), highWaterMark, opts.signal);
}
