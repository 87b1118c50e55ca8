/**
 * truncate(): a journal back to a point, by seq or by time, for undoing a bad deploy's writes. What
 * it drops is kept in `<journal>.truncated`; the seqs after the point are assigned again.
 */
import { msOf, positiveInt, type TimeOption } from '../read/range.js';
import type { RecoveredTail } from '../write/recovery.js';
import { rewrite, type CompactOptions } from './compact.js';

export interface TruncateResult {
  /** The last seq kept: the next append gets the seq after it. */
  lastSeq: number;
  recordsDropped: number;
  /** Where the dropped bytes were kept; null when nothing was dropped (the journal is left as it was). */
  savedTo: string | null;
  bytesBefore: number;
  bytesAfter: number;
  /** The torn tail left out, saved first as a writer saves what it cuts; null if there was none. */
  cut: RecoveredTail | null;
}

/**
 * Drops every record after the point: after seq `toSeq`, or after the last record appended at or
 * before `toTs` (ms since the epoch, or a Date). Holds the writers' lock while it rewrites the
 * journal by write-replace (appends wait), keeps a durable copy of what it drops, and sets the
 * header's maxSeq to the last seq kept, so the next append gets the next seq after it and
 * consumers past the point fail with DIVERGED. Nothing after the point means nothing is written.
 */
export async function truncate(
  file: string, to: { toSeq?: number; toTs?: TimeOption }, opts: Pick<CompactOptions, 'signal' | 'onProgress' | 'lockTimeoutMs'> = {},
): Promise<TruncateResult> {
  if (typeof file !== 'string' || file === '') throw new TypeError('path must be a non-empty string');
  const seq = to.toSeq === 0 ? 0 : positiveInt('toSeq', to.toSeq);
  const ts = msOf('toTs', to.toTs);
  if ((seq === undefined) === (ts === undefined)) throw new TypeError('truncate takes one of toSeq and toTs');
  const { result, truncatedAt } = await rewrite(file, { ...opts, wait: true }, { truncateAfter: { ...(seq !== undefined ? { seq } : {}), ...(ts !== undefined ? { ts } : {}) } });
  return {
    lastSeq: truncatedAt!.lastSeq,
    recordsDropped: result.recordsBefore - result.recordsAfter,
    savedTo: truncatedAt!.savedTo,
    bytesBefore: result.bytesBefore,
    bytesAfter: result.bytesAfter,
    cut: result.cut,
  };
}
