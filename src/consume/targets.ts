/** Where a reset puts a consumer: the seq it gets next for each kind of target. */
import { journalInfo } from '../read/info.js';
import { msOf } from '../read/range.js';
import { readJournal } from '../read/reader.js';

/**
 * `'earliest'`: the oldest record still in the journal; `'latest'`: the records appended from now
 * on; `{ seq }`: the record with that seq (or the first after it), as Kafka's `--to-offset`;
 * `{ ts }`: the first record appended at or after that time (ms since the epoch or a Date), as
 * Kafka's `--to-datetime`, or the records appended from now on if there is none.
 */
export type SeekTarget = 'earliest' | 'latest' | { seq: number } | { ts: number | Date };

/** Throws the TypeError or RangeError for what is not a target, before anything is read. */
export function checkTarget(target: unknown): asserts target is SeekTarget {
  if (target === 'earliest' || target === 'latest') return;
  if (typeof target === 'object' && target !== null && 'seq' in target) {
    const { seq } = target as { seq: unknown };
    if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 1) return;
    throw new RangeError('a seq to seek to must be a positive integer');
  }
  if (typeof target === 'object' && target !== null && 'ts' in target) {
    msOf('a time to seek to', (target as { ts: number | Date }).ts);
    return;
  }
  throw new TypeError(`a seek target is 'earliest', 'latest', { seq } or { ts }`);
}

/**
 * The seq a consumer moved to `target` gets next, and the journal's id. A seq past the journal's
 * end + 1, or below what retention kept, is a RangeError: the consumer would skip records or find
 * its position gone.
 */
export async function nextSeqFor(file: string, target: SeekTarget): Promise<{ next: number; journal: string }> {
  const { header, lastSeq } = await journalInfo(file);
  const at = (next: number) => ({ next, journal: header.id });
  if (target === 'latest') return at(lastSeq + 1);
  if (target === 'earliest' || 'ts' in target) {
    const it = readJournal(file, target === 'earliest' ? {} : { fromTs: target.ts });
    try {
      const first = await it.next();
      return at(first.done ? lastSeq + 1 : first.value.seq);
    } finally {
      await it.return();
    }
  }
  const { seq } = target;
  if (seq > lastSeq + 1) throw new RangeError(`seq ${seq} is past the end of ${file} (its last seq is ${lastSeq})`);
  if (seq < header.minSeq) throw new RangeError(`seq ${seq} of ${file} was removed by retention; the oldest kept is seq ${header.minSeq} or later (seek to 'earliest')`);
  return at(seq);
}
