/**
 * The scan engine: a byte range of a journal in, committed batches and damage reports out. Every
 * reader of the file (replay, follow, verify, a writer's recovery, compaction) runs this one
 * engine, configured by options; none assembles its own.
 */
import type { DataMode, Envelope } from '../format/envelope.js';
import { MAX_LINE_BYTES } from '../format/limits.js';
import { BatchScanner, type Damage, type ScannedRecord, type TornTail } from './batches.js';
import { LineFeeder } from './feeder.js';

/**
 * Bytes read at a time: below Node's ~1 MB threshold for external strings, which the collector
 * frees late and would inflate a reader's memory.
 */
export const CHUNK_BYTES = 512 * 1024;

/**
 * A follower's reads, at the live end and as it catches up: it reads an unfinished batch again
 * from its start on the next read, and with reads of CHUNK_BYTES a catch-up took about 28% more
 * CPU than with these.
 */
export const FOLLOW_CHUNK_BYTES = 256 * 1024;

export interface ScanOptions {
  /** The journal's path, for messages. */
  path: string;
  /** Offset of the first line: the end of the header or of a batch, or a line a seek found (then `midBatch`). */
  from: number;
  /** The end of the range, if known: reads stop there, and a small range gets a small buffer. */
  to?: number;
  /** seq of the last committed record before `from` (0 at the top of a file). @default 0 */
  prevSeq?: number;
  /** ts of the record before `from`, for tsBackwards. @default 0 */
  prevTs?: number;
  /** Line number of the first line, if known (the header is line 1). @default null */
  firstLine?: number | null;
  /** The first line may be in the middle of a batch (after a seek), so its batch is counted short. @default false */
  midBatch?: boolean;
  /** The journal has seals (format version 2, see isVersion2); in version 1 a seal line is damage. */
  seals: boolean;
  /** 'throw': corruption ends the scan with CORRUPT. 'report': it is collected, and the intact records around it kept. */
  onCorrupt: 'throw' | 'report';
  /**
   * 'data': records' data is parsed (readers). 'marks': only seqs, timestamps and commit marks are
   * read where the layout allows, and data is left undefined (verify, writers, compaction).
   */
  decode: 'data' | 'marks';
  /** With decode 'data': what data is decoded as (see DataMode). @default 'value' */
  dataMode?: DataMode;
  /** Keep committed records for take(); otherwise they are only counted, or given to onBatch. @default decode === 'data' */
  collect?: boolean;
  /** Read the next chunk while the caller works on this one. One pass to the end only: no restart() or stepSync(). @default false */
  readAhead?: boolean;
  /** @default CHUNK_BYTES */
  chunkBytes?: number;
  /** Longest line accepted; a longer one is damage. @default MAX_LINE_BYTES */
  maxLineBytes?: number;
  /** Keep the bytes of the batch not yet committed in the buffer, so that onBatch can view() them. @default false */
  retainBatch?: boolean;
  /** Called after each chunk's complete lines are fed, with the offset after the last of them, while view() still shows them. */
  onFed?: (fedTo: number) => void;
  /** Called for each committed batch, in place of collecting it (see BatchScanner). */
  onBatch?: (records: ScannedRecord[], end: number, lastLine: number, count: number) => void;
  /** Without collect: called for each record line as it joins its batch (see BatchScanner). */
  onRecord?: (offset: number, lf: number, env: Envelope) => void;
}

export class JournalScan {
  readonly #fd: number;
  readonly #opts: ScanOptions;
  #scanner: BatchScanner;
  #feeder: LineFeeder;
  #chunk: number;

  constructor(fd: number, o: ScanOptions) {
    this.#fd = fd;
    this.#opts = o;
    const base = o.chunkBytes ?? CHUNK_BYTES;
    this.#chunk = o.to === undefined ? base : Math.min(base, Math.max(o.to - o.from, 4096));
    this.#scanner = this.#newScanner(o.from, o.prevSeq ?? 0, o.midBatch ?? false, o.firstLine ?? null);
    this.#feeder = this.#newFeeder(o.from);
  }

  /** Reads the next chunk (not past `limit`, or `to`) and scans its lines. Returns the bytes read: 0 at the end. */
  step(limit = this.#opts.to): Promise<number> {
    return this.#feeder.step(this.#scanner, limit);
  }

  /** step() with a synchronous read, for the small ranges a writer reads under the writers' lock. */
  stepSync(limit = this.#opts.to): number {
    return this.#feeder.stepSync(this.#scanner, limit);
  }

  /**
   * Ends the scan at `eof`: what lies after the last committed batch is a torn tail, unless a seal
   * at the very end shows it to be corruption (a damaged seal, or damage before one).
   */
  finish(eof: number): TornTail | null {
    return this.#scanner.finish(eof, eof === this.#feeder.pos ? this.#feeder.lastBytes : undefined);
  }

  /** Waits for a read ahead still in flight: call it before closing the fd. */
  settle(): Promise<void> {
    return this.#feeder.settle();
  }

  /** The committed records collected since the last take(). */
  take(): ScannedRecord[] {
    const out = this.#scanner.out;
    this.#scanner.out = [];
    return out;
  }

  /**
   * Starts over at `pos`, the end of a committed batch whose last seq is `prevSeq` (or, with
   * `midBatch`, the line a seek found), reading `chunkBytes` at a time. What was read after `pos`
   * is forgotten: a follower re-reads an unfinished tail this way.
   */
  restart(pos: number, prevSeq: number, midBatch: boolean, chunkBytes = this.#chunk): void {
    if (chunkBytes === this.#chunk) this.#feeder.reset(pos);
    else {
      this.#chunk = chunkBytes;
      this.#feeder = this.#newFeeder(pos);
    }
    this.#scanner = this.#newScanner(pos, prevSeq, midBatch, null);
  }

  /** The file's bytes `[start, end)` while a chunk is being scanned (in onBatch and onFed). */
  view(start: number, end: number): Buffer {
    return this.#feeder.view(start, end);
  }

  /** File offset up to which bytes have been read. */
  get pos(): number {
    return this.#feeder.pos;
  }

  /** Bytes asked for per read. */
  get chunkBytes(): number {
    return this.#chunk;
  }

  /** Offset just after the last committed batch. */
  get committedEnd(): number {
    return this.#scanner.committedEnd;
  }

  /** seq of the last committed record (prevSeq until one is committed). */
  get lastSeq(): number {
    return this.#scanner.lastSeq;
  }

  /** seq of the first committed record, or 0 while there is none. */
  get firstSeq(): number {
    return this.#scanner.firstSeq;
  }

  /** Number of committed records. */
  get records(): number {
    return this.#scanner.records;
  }

  /** The highest offset a committed commit mark vouched for as durable. */
  get synced(): number {
    return this.#scanner.synced;
  }

  /** ts of the last committed record, 0 while there is none. */
  get lastTs(): number {
    return this.#scanner.lastTs;
  }

  /** Whether the last thing committed is a seal ending at committedEnd. */
  get sealed(): boolean {
    return this.#scanner.sealed;
  }

  /** Whether some record's ts was lower than the one before it (possible only in a version 1 journal). */
  get tsBackwards(): boolean {
    return this.#scanner.tsBackwards;
  }

  /** Corruption found and confirmed (with onCorrupt 'report'), in file order. */
  get corrupt(): readonly Damage[] {
    return this.#scanner.corrupt;
  }

  /** True while damage is being looked into: nothing commits until a commit mark vouches for it or the scan ends. */
  get damaged(): boolean {
    return this.#scanner.damaged;
  }

  /** True while lines have been read past the last commit. */
  get unsettled(): boolean {
    return this.#scanner.unsettled;
  }

  #newScanner(from: number, prevSeq: number, midBatch: boolean, firstLine: number | null): BatchScanner {
    const o = this.#opts;
    return new BatchScanner(from, {
      path: o.path, prevSeq, prevTs: o.prevTs ?? 0, midBatch, firstLine, seals: o.seals, onCorrupt: o.onCorrupt, collect: o.collect ?? o.decode === 'data',
      ...(o.onBatch !== undefined ? { onBatch: o.onBatch } : {}),
      ...(o.onRecord !== undefined ? { onRecord: o.onRecord } : {}),
    });
  }

  #newFeeder(from: number): LineFeeder {
    const o = this.#opts;
    return new LineFeeder(this.#fd, from, this.#chunk, o.maxLineBytes ?? MAX_LINE_BYTES, {
      marksOnly: o.decode === 'marks',
      dataMode: o.dataMode ?? 'value',
      readAhead: o.readAhead ?? false,
      ...(o.retainBatch === true ? { retain: () => this.#scanner.committedEnd } : {}),
      ...(o.onFed !== undefined ? { onFed: o.onFed } : {}),
    });
  }
}
