/**
 * Checks the far part of a journal on a worker thread while verify checks the near part, so that a
 * large verify uses two cores; its verdict is used only when it is clean and follows on
 * (docs/design.md, "verify on two threads"). This module is also the worker's entry point.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { TornTail } from '../scan/batches.js';
import { JournalScan } from '../scan/scan.js';

/** What the scan of a clean far range found. */
export interface RangeVerdict {
  records: number;
  firstSeq: number;
  lastSeq: number;
  /** Bytes after its last committed batch, as the scan of the whole file would report them. */
  tornTail: TornTail | null;
}

interface Job {
  fd: number;
  path: string;
  from: number;
  to: number;
  maxLine: number;
  deep: boolean;
  seals: boolean;
  /** Set to 1 by the caller to stop the check early. */
  stop: Int32Array;
  /** Where the check has read to, for the caller's progress reports. */
  pos: Float64Array;
}

/** Scans `[from, to)`; null unless it holds no damage and at least one committed batch. */
async function checkRange(job: Job): Promise<RangeVerdict | null> {
  // Reads go through fs/io.ts, which loads the flock addon only when a lock is taken, never here:
  // the addon must not be loaded by a second thread.
  const scanner = new JournalScan(job.fd, {
    path: job.path, from: job.from, to: job.to, seals: job.seals, onCorrupt: 'report', decode: job.deep ? 'data' : 'marks', collect: false, readAhead: true, maxLineBytes: job.maxLine,
  });
  try {
    while ((await scanner.step()) > 0) {
      if (Atomics.load(job.stop, 0) !== 0 || scanner.corrupt.length > 0) return null;
      job.pos[0] = scanner.pos;
    }
  } catch {
    // A failed read: the caller's own scan of the range meets it and reports it.
    return null;
  } finally {
    await scanner.settle();
  }
  const tornTail = scanner.finish(Math.min(job.to, scanner.pos));
  if (scanner.corrupt.length > 0 || scanner.records === 0) return null;
  return { records: scanner.records, firstSeq: scanner.firstSeq, lastSeq: scanner.lastSeq, tornTail };
}

/** A check running on a worker thread. */
export interface RangeCheck {
  /** The verdict, or null (never rejects). */
  readonly done: Promise<RangeVerdict | null>;
  /** Asks the thread to stop and waits until it has: after this, the fd may be closed. */
  stop(): Promise<void>;
  /** The file offset the check has read to. */
  pos(): number;
}

/**
 * Starts checking `[from, to)` of the file open at `fd` on a worker thread. The thread reads the
 * same fd (threads share a process's descriptors), so it checks the very file the caller reads.
 */
export function startRangeCheck(fd: number, path: string, from: number, to: number, maxLine: number, deep: boolean, seals: boolean): RangeCheck {
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const pos = new Float64Array(new SharedArrayBuffer(8));
  pos[0] = from;
  const job: Job = { fd, path, from, to, maxLine, deep, seals, stop, pos };
  let worker: Worker;
  try {
    worker = new Worker(new URL(import.meta.url), { workerData: { rangeCheck: job } });
  } catch {
    return { done: Promise.resolve(null), stop: async () => {}, pos: () => from };
  }
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const done = new Promise<RangeVerdict | null>((resolve) => {
    worker.once('message', (v: RangeVerdict | null) => resolve(v));
    // No thread, or no built module to run in it (as when the sources run under a test runner).
    worker.once('error', () => resolve(null));
    void exited.then(() => resolve(null));
  });
  return {
    done,
    stop: async () => {
      Atomics.store(stop, 0, 1);
      await exited;
    },
    pos: () => pos[0]!,
  };
}

if (!isMainThread && parentPort !== null && (workerData as { rangeCheck?: Job } | null)?.rangeCheck !== undefined) {
  const port = parentPort;
  void checkRange((workerData as { rangeCheck: Job }).rangeCheck).then((v) => port.postMessage(v), () => port.postMessage(null));
}
