/**
 * verify(): a full check of a journal file, reported rather than thrown: records, seq range, a torn
 * tail, and each damaged line before durable data. It changes nothing; cutting and repairing are
 * separate steps.
 */
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { isVersion2, type Header } from '../format/header.js';
import { MAX_LINE_BYTES } from '../format/limits.js';
import { io } from '../fs/io.js';
import { FileLock } from '../fs/lock.js';
import type { Damage, TornTail } from '../scan/batches.js';
import { openJournalFile } from '../scan/open.js';
import { JournalScan } from '../scan/scan.js';
import { findLine } from '../scan/seek.js';
import { startRangeCheck, type RangeCheck, type RangeVerdict } from './verify-worker.js';

export interface VerifyReport {
  /** True when there is neither a torn tail nor damage. */
  ok: boolean;
  header: Header;
  /** Committed records (with damage skipped, the intact ones around it). */
  records: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** File size checked. */
  bytes: number;
  /** Bytes after the last committed batch: normal after a crash; the next writer cuts them. */
  tornTail: TornTail | null;
  /** Damaged lines before durable data, in file order. */
  corrupt: Damage[];
}

export interface VerifyOptions {
  /**
   * Also parse every record's data as JSON. Without it, each line's checksum, frame, envelope and
   * batch are checked, and data is trusted to be the JSON a writer wrote, which its checksum
   * proves; with it, a foreign writer's invalid JSON under a valid checksum is found too, at the
   * cost of a JSON.parse per record. @default false
   */
  deep?: boolean;
  signal?: AbortSignal;
  /** Called after each chunk read. */
  onProgress?: (p: { bytesRead: number; bytesTotal: number }) => void;
  maxLineBytes?: number;
  /**
   * Let a journal of 64 MiB or more be checked by two threads: a worker thread checks the second
   * half while this one checks the first. The report is the same either way. @default true
   */
  parallel?: boolean;
}

/** How long verify waits for a writer to finish its batch before taking the file size. */
const SNAPSHOT_WAIT_MS = 2000;
/** Below this, a second thread costs more to start (tens of ms) than it saves. */
const PARALLEL_MIN_BYTES = 64 * 1024 * 1024;
/**
 * The share of the file this thread checks when a worker checks the rest: a little over half,
 * since the worker starts tens of milliseconds late.
 */
const NEAR_SHARE = 0.52;
/** How far past the split to look for the end of a batch before checking on one thread. */
const SEAM_WINDOW = 8 * 1024 * 1024;

export async function verify(path: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const { fd, header, headerEnd } = await openJournalFile(path, 'r');
  const lock = new FileLock(fd, path);
  try {
    const bytes = await snapshotSize(fd, lock);
    const maxLine = opts.maxLineBytes ?? MAX_LINE_BYTES;
    const deep = opts.deep === true;
    const scanner = new JournalScan(fd, {
      path, from: headerEnd, to: bytes, firstLine: 2, seals: isVersion2(header), onCorrupt: 'report', decode: deep ? 'data' : 'marks', collect: false, readAhead: true, maxLineBytes: maxLine,
    });
    let far: RangeCheck | null = null;
    /** The worker's verdict on the second half, when it is taken in place of this thread's scan of it. */
    let farVerdict: RangeVerdict | null = null;
    const scan = async (limit: number, total: number) => {
      while ((await scanner.step(limit)) > 0) {
        if (opts.signal?.aborted) throw abortedError(path, opts.signal);
        // While a worker checks from the seam (the limit) on, what it has read counts too.
        opts.onProgress?.({ bytesRead: scanner.pos + (far !== null && limit < total ? far.pos() - limit : 0), bytesTotal: total });
      }
    };
    try {
      // With a worker checking from `seam` (the end of a batch) on, this thread checks up to it,
      // then takes the worker's verdict if it fits on, or else goes on itself, as if there had been
      // no worker.
      const seam = opts.parallel !== false && bytes - headerEnd >= PARALLEL_MIN_BYTES
        ? ((await findLine(fd, headerEnd + Math.floor((bytes - headerEnd) * NEAR_SHARE), bytes, SEAM_WINDOW, (d) => d.commit !== undefined)
          .catch(() => null))?.end ?? null)
        : null;
      if (seam !== null && seam < bytes) {
        far = startRangeCheck(fd, path, seam, bytes, maxLine, deep, isVersion2(header));
        await scan(seam, bytes);
        if (scanner.committedEnd === seam && !scanner.unsettled) {
          const v = await waitFor(far, bytes, opts, path);
          if (v !== null && v.firstSeq > scanner.lastSeq) farVerdict = v;
        }
        if (farVerdict === null) await far.stop();
      }
      if (farVerdict === null) await scan(bytes, bytes);
      else opts.onProgress?.({ bytesRead: bytes, bytesTotal: bytes });
    } catch (err) {
      if (err instanceof JournalError) throw err;
      throw ioError('cannot read', path, err);
    } finally {
      await far?.stop();
      await scanner.settle();
    }
    const tornTail = farVerdict !== null ? farVerdict.tornTail : scanner.finish(Math.min(bytes, scanner.pos));
    const records = scanner.records + (farVerdict?.records ?? 0);
    return {
      ok: tornTail === null && scanner.corrupt.length === 0,
      header,
      records,
      firstSeq: scanner.records > 0 ? scanner.firstSeq : (farVerdict?.firstSeq ?? null),
      lastSeq: farVerdict?.lastSeq ?? (scanner.records > 0 ? scanner.lastSeq : null),
      bytes,
      tornTail,
      corrupt: [...scanner.corrupt],
    };
  } finally {
    await lock.closeWhenSettled(() => io.close(fd)).catch(() => {});
  }
}

const abortedError = (path: string, signal: AbortSignal) => new JournalError(ErrorCode.ABORTED, `${path}: verify aborted`, { path, cause: signal.reason });

/** The worker's verdict on `[seam, bytes)`, reporting its progress meanwhile; rejects if verify is aborted first. */
async function waitFor(far: RangeCheck, bytes: number, opts: VerifyOptions, path: string) {
  const { signal, onProgress } = opts;
  let ticks: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => (onAbort = () => reject(abortedError(path, signal!))));
  try {
    if (signal?.aborted) throw abortedError(path, signal);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (onProgress !== undefined) ticks = setInterval(() => onProgress({ bytesRead: far.pos(), bytesTotal: bytes }), 100);
    return await Promise.race([far.done, aborted]);
  } finally {
    clearInterval(ticks);
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * The file size with no batch half-written: taken under the writers' lock, held only for an fstat,
 * so a batch in flight is not mistaken for a torn tail. If the lock is busy for long, the size is
 * taken anyway (a report made then may show a torn tail that a live writer is about to finish).
 */
async function snapshotSize(fd: number, lock: FileLock): Promise<number> {
  try {
    await lock.acquire(SNAPSHOT_WAIT_MS);
  } catch {
    return io.fstatSync(fd).size;
  }
  try {
    return io.fstatSync(fd).size;
  } finally {
    lock.release();
  }
}
