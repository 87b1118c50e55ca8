/**
 * verify: a full check of a journal file, reported rather than thrown. It reads every line, checks
 * every checksum and batch, and says what it found: records, seq range, a torn tail, and each
 * damaged line before durable data. It changes nothing; cutting and repairing are separate steps.
 */
import { ErrorCode, JournalError, ioError } from './errors.js';
import { openJournalFile } from './file.js';
import type { Header } from './format.js';
import { io } from './io.js';
import { LineFeeder } from './lines.js';
import { FileLock } from './lock.js';
import { DEFAULT_MAX_LINE } from './reader.js';
import { BatchScanner, type Damage, type TornTail } from './scan.js';

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
}

/** Below Node's ~1 MB threshold for external strings (see reader.ts). */
const CHUNK = 512 * 1024;
/** How long verify waits for a writer to finish its batch before taking the file size. */
const SNAPSHOT_WAIT_MS = 2000;

export async function verify(path: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const { fd, header, headerEnd } = await openJournalFile(path, 'r');
  const lock = new FileLock(fd, path);
  try {
    const bytes = await snapshotSize(fd, lock);
    const scanner = new BatchScanner(headerEnd, { path, prevSeq: 0, firstLine: 2, onCorrupt: 'report', collect: false });
    const feeder = new LineFeeder(fd, headerEnd, CHUNK, opts.maxLineBytes ?? DEFAULT_MAX_LINE, { marksOnly: opts.deep !== true, readAhead: true });
    try {
      while ((await feeder.step(scanner, bytes)) > 0) {
        if (opts.signal?.aborted) throw new JournalError(ErrorCode.ABORTED, `${path}: verify aborted`, { path, cause: opts.signal.reason });
        opts.onProgress?.({ bytesRead: feeder.pos, bytesTotal: bytes });
      }
    } catch (err) {
      if (err instanceof JournalError) throw err;
      throw ioError('cannot read', path, err);
    } finally {
      await feeder.settle();
    }
    const tornTail = scanner.finish(Math.min(bytes, feeder.pos));
    return {
      ok: tornTail === null && scanner.corrupt.length === 0,
      header,
      records: scanner.records,
      firstSeq: scanner.records > 0 ? scanner.firstSeq : null,
      lastSeq: scanner.records > 0 ? scanner.lastSeq : null,
      bytes,
      tornTail,
      corrupt: scanner.corrupt,
    };
  } finally {
    await lock.closeWhenSettled(() => io.close(fd)).catch(() => {});
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
