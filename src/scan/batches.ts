/**
 * Turns decoded lines into committed batches, and decides what a problem in the file is: a torn
 * tail (cut quietly) or corruption (loud). format.md §5 states the rule; docs/design.md, "Reading".
 */
import { ErrorCode, JournalError } from '../errors.js';
import type { DecodedLine, Envelope } from '../format/envelope.js';

export interface ScannedRecord {
  seq: number;
  ts: number;
  data: unknown;
  /** Byte offset of the record's line in the file. */
  offset: number;
}

export interface Damage {
  /** Byte offset of the damaged line. */
  offset: number;
  /** 1-based line number (the header is line 1), or null when the scan did not start at the top. */
  line: number | null;
  reason: string;
}

export interface TornTail {
  /** Where the torn tail starts: the end of the last committed batch. */
  offset: number;
  bytes: number;
}

export interface BatchScannerOptions {
  path: string;
  /** seq of the last committed record before the first line fed (0 at the top of a file). */
  prevSeq: number;
  /** Line number of the first line fed, if known. */
  firstLine?: number | null;
  /** The first line fed may be in the middle of a batch (after a seek), so its batch is counted short. */
  midBatch?: boolean;
  /** 'throw': corruption ends the scan with a CORRUPT error. 'report': it is collected and the intact records around it are kept. */
  onCorrupt: 'throw' | 'report';
  /** Keep the decoded records for the caller (readers), or only count them (recovery, stats). */
  collect: boolean;
  /**
   * Receive each committed batch as it is committed: its records (with `collect`; instead of their
   * being added to `out`), the offset just after it, the offset of its last line (the one with the
   * commit mark) and its record count: all that a caller copying whole batches needs, so it can do
   * without `collect` and the object per record that comes with it.
   */
  onBatch?: (records: ScannedRecord[], end: number, lastLine: number, count: number) => void;
}

interface Suspect {
  /**
   * A commit mark whose `synced` passes this offset vouches for the damage: the offset of the
   * damaged line, or for a commit mark whose count does not match, the start of its batch (lines
   * of the batch are missing from somewhere after it).
   */
  offset: number;
  damage: Damage[];
  held: ScannedRecord[];
  heldCount: number;
  heldFirstSeq: number;
  heldLastSeq: number;
}

export class BatchScanner {
  readonly #path: string;
  readonly #throw: boolean;
  readonly #collect: boolean;
  readonly #onBatch: ((records: ScannedRecord[], end: number, lastLine: number, count: number) => void) | undefined;
  #midBatch: boolean;
  #line: number | null;

  /** Offset just after the last committed batch. */
  committedEnd: number;
  /** seq of the last committed record (prevSeq until one is committed). */
  lastSeq: number;
  /** seq of the first committed record, or 0 while there is none. */
  firstSeq = 0;
  /** Number of committed records. */
  records = 0;
  /** The highest offset a committed commit mark vouched for as durable. */
  synced = 0;
  /** Committed records not yet taken by the caller (only when collecting). */
  out: ScannedRecord[] = [];
  /** Corruption found and confirmed (only in 'report' mode). */
  readonly corrupt: Damage[] = [];

  #pending: ScannedRecord[] = [];
  #pendingCount = 0;
  #pendingFirstSeq = 0;
  #pendingLastSeq = 0;
  #suspect: Suspect | null = null;

  constructor(start: number, opts: BatchScannerOptions) {
    this.#path = opts.path;
    this.#throw = opts.onCorrupt === 'throw';
    this.#collect = opts.collect;
    this.#onBatch = opts.onBatch;
    this.#midBatch = opts.midBatch ?? false;
    this.#line = opts.firstLine ?? null;
    this.committedEnd = start;
    this.lastSeq = opts.prevSeq;
  }

  /** True while damage is being looked into: nothing commits until the scan ends (or, in 'report' mode, a commit mark vouches for it). */
  get damaged(): boolean {
    return this.#suspect !== null;
  }

  /** True while records have been read past the last commit (or damage is being looked into). */
  get unsettled(): boolean {
    return this.#pendingCount > 0 || this.#suspect !== null;
  }

  /**
   * Feeds the line `[offset, lf)`; `lf` is the offset of its terminating LF. `decoded` is read during
   * the call and not kept: the feeder decodes every line into the same envelope.
   */
  line(offset: number, lf: number, decoded: DecodedLine): void {
    const lineNo = this.#line;
    if (lineNo !== null) this.#line = lineNo + 1;
    if (this.#suspect !== null) return this.#suspectLine(offset, lf, lineNo, decoded);
    if (typeof decoded === 'string') return this.#startSuspect(offset, lineNo, decoded);
    const env = decoded;
    const prev = this.#pendingCount > 0 ? this.#pendingLastSeq : this.lastSeq;
    if (env.seq <= prev) return this.#startSuspect(offset, lineNo, `seq ${env.seq} does not follow seq ${prev}`);
    if (this.#collect) this.#pending.push({ seq: env.seq, ts: env.ts, data: env.data, offset });
    if (this.#pendingCount++ === 0) this.#pendingFirstSeq = env.seq;
    this.#pendingLastSeq = env.seq;
    if (env.commit === undefined) return;
    const count = this.#pendingCount;
    if (env.commit !== count && !(this.#midBatch && env.commit > count)) {
      // The commit line is intact, so its `synced` is a writer's: it vouches for its own batch
      // when it says bytes from the batch's start on were durable (lines were lost from a batch
      // that was on disk). A crash cannot lose whole lines without damaging one.
      this.#startSuspect(offset, lineNo, `commit mark counts ${env.commit} records but its batch has ${count}`, this.committedEnd);
      return this.#vouch(offset, lf, env);
    }
    this.#midBatch = false;
    this.#commit(this.#pending, count, offset, lf + 1, this.#pendingFirstSeq, env.seq, Math.min(env.synced!, offset));
    this.#pending = [];
    this.#pendingCount = 0;
  }

  /**
   * Ends the scan at `eof`. Anything after the last committed batch (an unfinished batch, damage no
   * commit mark vouched for, an unterminated last line) is a torn tail.
   */
  finish(eof: number): TornTail | null {
    this.#pending = [];
    this.#pendingCount = 0;
    this.#suspect = null;
    return eof > this.committedEnd ? { offset: this.committedEnd, bytes: eof - this.committedEnd } : null;
  }

  #commit(records: ScannedRecord[], count: number, lastLine: number, end: number, firstSeq: number, lastSeq: number, synced: number): void {
    if (this.#onBatch !== undefined) this.#onBatch(records, end, lastLine, count);
    else if (this.#collect) {
      if (this.out.length === 0) this.out = records;
      else for (const r of records) this.out.push(r);
    }
    if (this.records === 0 && count > 0) this.firstSeq = firstSeq;
    this.records += count;
    this.committedEnd = end;
    this.lastSeq = lastSeq;
    if (synced > this.synced) this.synced = synced;
  }

  #startSuspect(offset: number, line: number | null, reason: string, from = offset): void {
    this.#suspect = {
      offset: from,
      damage: [{ offset, line, reason }],
      held: this.#pending,
      heldCount: this.#pendingCount,
      heldFirstSeq: this.#pendingFirstSeq,
      heldLastSeq: this.#pendingCount > 0 ? this.#pendingLastSeq : this.lastSeq,
    };
    this.#pending = [];
    this.#pendingCount = 0;
  }

  #suspectLine(offset: number, lf: number, line: number | null, decoded: DecodedLine): void {
    const s = this.#suspect!;
    if (typeof decoded === 'string') {
      s.damage.push({ offset, line, reason: decoded });
      return;
    }
    const env = decoded;
    if (env.seq <= s.heldLastSeq) {
      s.damage.push({ offset, line, reason: `seq ${env.seq} does not follow seq ${s.heldLastSeq}` });
      return;
    }
    if (this.#collect) s.held.push({ seq: env.seq, ts: env.ts, data: env.data, offset });
    if (s.heldCount++ === 0) s.heldFirstSeq = env.seq;
    s.heldLastSeq = env.seq;
    if (env.commit !== undefined) this.#vouch(offset, lf, env);
  }

  /** A commit line while damage is looked into: if its `synced` passes the damage, the damage is corruption. */
  #vouch(offset: number, lf: number, env: Envelope): void {
    const s = this.#suspect!;
    const synced = Math.min(env.synced!, offset);
    if (synced <= s.offset) return;
    // A writer knew the damaged bytes to be durable: this is corruption, not a crash.
    const first = s.damage[0]!;
    if (this.#throw) {
      const where = first.line === null ? `offset ${first.offset}` : `line ${first.line} (offset ${first.offset})`;
      throw new JournalError(ErrorCode.CORRUPT, `${this.#path}: damaged record at ${where} before durable data: ${first.reason}`, {
        path: this.#path, offset: first.offset, ...(first.line === null ? {} : { line: first.line }),
      });
    }
    for (const d of s.damage) this.corrupt.push(d);
    this.#suspect = null;
    this.#midBatch = false;
    this.#commit(s.held, s.heldCount, offset, lf + 1, s.heldFirstSeq, env.seq, synced);
  }
}
