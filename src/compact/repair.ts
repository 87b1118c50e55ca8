/**
 * repair(): the explicit fix for damage before durable data. It keeps a `.broken` copy, then
 * rewrites the journal without the damaged lines, every intact record kept with its seq.
 */
import { ioError } from '../errors.js';
import { copyDurably } from '../fs/durable.js';
import { io } from '../fs/io.js';
import type { Damage, TornTail } from '../scan/batches.js';
import { openJournalFile } from '../scan/open.js';
import { verify } from '../read/verify.js';
import { rewrite, type CompactOptions } from './compact.js';

export interface RepairResult {
  /** The copy of the journal as it was; null when there was nothing to repair and nothing was written. */
  brokenCopy: string | null;
  /** The damaged lines left out (offsets and lines in the copy). */
  dropped: Damage[];
  /** The torn tail left out, if any. */
  tornTail: TornTail | null;
  recordsKept: number;
  bytesBefore: number;
  bytesAfter: number;
}

export async function repair(file: string, opts: Pick<CompactOptions, 'signal' | 'onProgress' | 'lockTimeoutMs'> = {}): Promise<RepairResult> {
  if (typeof file !== 'string' || file === '') throw new TypeError('path must be a non-empty string');
  // A missing file, a file that is not a journal or a damaged header cannot be repaired: fail
  // before leaving a .broken copy of it behind.
  const { fd } = await openJournalFile(file, 'r');
  try {
    await io.close(fd);
  } catch (err) {
    throw ioError('cannot close', file, err);
  }
  // A clean journal is left as it is: no copy, no new generation.
  const check = await verify(file, { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: (p) => opts.onProgress!({ phase: 'check', ...p, recordsWritten: 0 }) } : {}) });
  if (check.ok) return { brokenCopy: null, dropped: [], tornTail: null, recordsKept: check.records, bytesBefore: check.bytes, bytesAfter: check.bytes };
  const brokenCopy = await keepCopy(file);
  const { result, dropped, tornTail } = await rewrite(file, { ...opts, wait: true }, { salvage: true });
  return { brokenCopy, dropped, tornTail, recordsKept: result.recordsAfter, bytesBefore: result.bytesBefore, bytesAfter: result.bytesAfter };
}

/** Copies the journal to the first free `.broken` name and makes the copy durable. */
async function keepCopy(file: string): Promise<string> {
  for (let n = 0; ; n++) {
    const target = n === 0 ? `${file}.broken` : `${file}.broken.${n}`;
    if (await copyDurably(file, target)) return target;
  }
}
