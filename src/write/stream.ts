/**
 * journal.createWriteStream(): the Journal as a Writable in object mode, for pipeline(). A write's
 * callback fires once its record is as durable as the journal's durability makes an append.
 */
import { Writable } from 'node:stream';

export interface WriteStreamOptions {
  /** Records buffered before write() returns false. @default 256 */
  highWaterMark?: number;
  /** Destroys the stream when aborted. */
  signal?: AbortSignal;
}

/** What the stream needs of a Journal. */
interface Appender<T> {
  appendMany(values: readonly T[]): Promise<unknown>;
}

export function journalWriteStream<T>(journal: Appender<T>, opts: WriteStreamOptions = {}): Writable {
  const hwm = opts.highWaterMark ?? 256;
  if (!Number.isSafeInteger(hwm) || hwm < 1) throw new RangeError('highWaterMark must be a positive integer');
  /** The appendMany in flight, if any: destroy() waits for it, since an append cannot be taken back. */
  let inFlight: Promise<unknown> | null = null;
  return new Writable({
    objectMode: true,
    highWaterMark: hwm,
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
    // Every record buffered while the last group was being written goes as one appendMany: one
    // write and one sync for all of them, and all or none of them, as for any appendMany.
    writev(chunks, cb) {
      const group = journal.appendMany(chunks.map((c) => c.chunk as T));
      inFlight = group;
      group.then(() => cb(), (err: Error) => cb(err)).finally(() => (inFlight = null));
    },
    destroy(err, cb) {
      if (inFlight === null) return cb(err);
      inFlight.then(() => cb(err), () => cb(err));
    },
  });
}
