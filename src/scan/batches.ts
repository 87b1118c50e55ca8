/**
 * Turns decoded lines into committed batches, and decides what a problem in the file is: a torn
 * tail (cut quietly) or corruption (loud). format.md §5 states the rule; docs/design.md, "Reading".
 */
import { ErrorCode, JournalError } from '../errors.js';
import type { DecodedLine, Envelope } from '../format/envelope.js';
import { UNFRAMED_JSON } from '../format/frame.js';
import { sealAtEnd } from '../format/seal.js';

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
  /**
   * How many whole lines of plain JSON without a checksum frame make up the tail, when that is all
   * it is: lines another tool appended, not a crash's leftover. 0 otherwise.
   */
  foreign: number;
}


export interface BatchScannerOptions {
  path: string;
  /** seq of the last committed record before the first line fed (0 at the top of a file). */
  prevSeq: number;
  /** Line number of the first line fed, if known. */
  firstLine?: number | null;
  /** The first line fed may be in the middle of a batch (after a seek), so its batch is counted short. */
  midBatch?: boolean;
  /** The journal's format has seals (version 2); in version 1 a seal line is damage. */
  seals: boolean;
  /** ts of the record before the first line fed, for tsBackwards. @default 0 */
  prevTs?: number;
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
  /**
   * Receive each record line as it joins its batch, with the offsets of the line and its LF, while
   * `env` still holds it. The records a batch's onBatch counts are the last `count` given here
   * before it; those given after the last commit are dropped when the scan ends.
   */
  onRecord?: (offset: number, lf: number, env: Envelope) => void;
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
  heldLastTs: number;
  /** The end of the last damaged line: a tail that ends there is made of whole lines. */
  damageEnd: number;
}

export class BatchScanner {
  readonly #path: string;
  readonly #throw: boolean;
  readonly #collect: boolean;
  readonly #onBatch: ((records: ScannedRecord[], end: number, lastLine: number, count: number) => void) | undefined;
  readonly #onRecord: ((offset: number, lf: number, env: Envelope) => void) | undefined;
  readonly #seals: boolean;
  #midBatch: boolean;
  #line: number | null;

  /** Offset just after the last committed batch. */
  committedEnd: number;
  /** seq of the last committed record (prevSeq until one is committed). */
  lastSeq: number;
  /** ts of the last committed record, 0 until one is committed. */
  lastTs = 0;
  /** Whether the last thing committed is a seal, ending at committedEnd. */
  sealed = false;
  /** Some record line's ts was lower than the one before it (committed or not: a conservative flag). */
  tsBackwards = false;
  #tsSeen: number;
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
  #pendingLastTs = 0;
  #suspect: Suspect | null = null;

  constructor(start: number, opts: BatchScannerOptions) {
    this.#path = opts.path;
    this.#throw = opts.onCorrupt === 'throw';
    this.#collect = opts.collect;
    this.#onBatch = opts.onBatch;
    this.#onRecord = opts.onRecord;
    this.#seals = opts.seals;
    this.#midBatch = opts.midBatch ?? false;
    this.#line = opts.firstLine ?? null;
    this.committedEnd = start;
    this.lastSeq = opts.prevSeq;
    this.#tsSeen = opts.prevTs ?? 0;
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
    if (typeof decoded === 'string') return this.#startSuspect(offset, lineNo, decoded, offset, lf + 1);
    const env = decoded;
    if (env.commit === 0) return this.#seal(offset, lf, lineNo, env.synced!);
    const prev = this.#pendingCount > 0 ? this.#pendingLastSeq : this.lastSeq;
    if (env.seq <= prev) return this.#startSuspect(offset, lineNo, `seq ${env.seq} does not follow seq ${prev}`, offset, lf + 1);
    if (env.ts < this.#tsSeen) this.tsBackwards = true;
    this.#tsSeen = env.ts;
    if (this.#collect) this.#pending.push({ seq: env.seq, ts: env.ts, data: env.data, offset });
    else if (this.#onRecord !== undefined) this.#onRecord(offset, lf, env);
    if (this.#pendingCount++ === 0) this.#pendingFirstSeq = env.seq;
    this.#pendingLastSeq = env.seq;
    this.#pendingLastTs = env.ts;
    if (env.commit === undefined) return;
    const count = this.#pendingCount;
    if (env.commit !== count && !(this.#midBatch && env.commit > count)) {
      // The commit line is intact, so its `synced` is a writer's: it vouches for its own batch
      // when it says bytes from the batch's start on were durable (lines were lost from a batch
      // that was on disk). A crash cannot lose whole lines without damaging one.
      this.#startSuspect(offset, lineNo, `commit mark counts ${env.commit} records but its batch has ${count}`, this.committedEnd, lf + 1);
      return this.#vouch(offset, lf, env.synced!, env.seq, env.ts);
    }
    this.#midBatch = false;
    this.#commit(this.#pending, count, offset, lf + 1, this.#pendingFirstSeq, env.seq, env.ts, Math.min(env.synced!, offset));
    this.#pending = [];
    this.#pendingCount = 0;
  }

  /**
   * Ends the scan at `eof`. Anything after the last committed batch (an unfinished batch, damage no
   * commit mark vouched for, an unterminated last line) is a torn tail, unless the file ends with
   * a seal that a writer wrote (`tail`: the file's last bytes, up to eof; see sealAtEnd): then
   * everything before the seal was durable, and damage there is corruption.
   */
  finish(eof: number, tail?: Uint8Array): TornTail | null {
    const s = this.#suspect;
    const seal = this.#seals && tail !== undefined && eof > this.committedEnd ? sealAtEnd(tail, eof) : null;
    if (seal !== null && seal.at >= this.committedEnd && (s !== null || this.#pendingCount > 0 || seal.damaged || seal.brokenLineEnd)) {
      this.#sealedAtEnd(eof, seal.at, seal.damaged);
      return null;
    }
    const foreign = s !== null && this.#pendingCount === 0 && s.heldCount === 0 && s.damageEnd === eof && s.damage.every((d) => d.reason === UNFRAMED_JSON)
      ? s.damage.length
      : 0;
    this.#pending = [];
    this.#pendingCount = 0;
    this.#suspect = null;
    return eof > this.committedEnd ? { offset: this.committedEnd, bytes: eof - this.committedEnd, foreign } : null;
  }

  /** A seal at `at`, the end of the file, vouches for what lies before it: what is unsettled there is corruption. */
  #sealedAtEnd(eof: number, at: number, sealDamaged: boolean): void {
    if (this.#suspect === null) {
      const reason = this.#pendingCount > 0 ? 'a batch without its commit mark before a seal' : 'damaged seal';
      this.#startSuspect(this.#pendingCount > 0 ? this.committedEnd : at, this.#line, reason, this.committedEnd, eof);
    } else if (sealDamaged && !this.#suspect.damage.some((d) => d.offset >= at)) {
      this.#suspect.damage.push({ offset: at, line: null, reason: 'damaged seal' });
    }
    const s = this.#suspect!;
    this.#confirm(at, eof, at, s.heldLastSeq, s.heldLastTs);
  }

  /** A seal line: a commit of no records, vouching for every byte before it. */
  #seal(offset: number, lf: number, lineNo: number | null, at: number): void {
    if (!this.#seals) return this.#startSuspect(offset, lineNo, 'a seal in a version 1 journal', offset, lf + 1);
    if (at !== offset) {
      // An intact seal that moved: bytes before it were removed or added since a writer sealed
      // there, which no crash does.
      this.#startSuspect(offset, lineNo, `a seal naming offset ${at}, not its own`, this.committedEnd, lf + 1);
      return this.#confirm(offset, lf + 1, this.committedEnd, this.#suspect!.heldLastSeq, this.#suspect!.heldLastTs);
    }
    if (this.#pendingCount > 0) {
      this.#startSuspect(offset, lineNo, 'a batch without its commit mark before a seal', this.committedEnd, lf + 1);
      return this.#vouch(offset, lf, offset, this.#suspect!.heldLastSeq, this.#suspect!.heldLastTs);
    }
    this.#midBatch = false;
    this.#commit([], 0, offset, lf + 1, 0, this.lastSeq, this.lastTs, offset);
    this.sealed = true;
  }

  #commit(records: ScannedRecord[], count: number, lastLine: number, end: number, firstSeq: number, lastSeq: number, lastTs: number, synced: number): void {
    if (this.#onBatch !== undefined) this.#onBatch(records, end, lastLine, count);
    else if (this.#collect) {
      if (this.out.length === 0) this.out = records;
      else for (const r of records) this.out.push(r);
    }
    if (this.records === 0 && count > 0) this.firstSeq = firstSeq;
    this.records += count;
    this.committedEnd = end;
    this.lastSeq = lastSeq;
    if (count > 0) this.lastTs = lastTs;
    this.sealed = false;
    if (synced > this.synced) this.synced = synced;
  }

  /** Damage at `offset` (the line ending at `end`); a commit mark whose synced passes `from` vouches for it. */
  #startSuspect(offset: number, line: number | null, reason: string, from: number, end: number): void {
    this.#suspect = {
      offset: from,
      damage: [{ offset, line, reason }],
      held: this.#pending,
      heldCount: this.#pendingCount,
      heldFirstSeq: this.#pendingFirstSeq,
      heldLastSeq: this.#pendingCount > 0 ? this.#pendingLastSeq : this.lastSeq,
      heldLastTs: this.#pendingCount > 0 ? this.#pendingLastTs : this.lastTs,
      damageEnd: end,
    };
    this.#pending = [];
    this.#pendingCount = 0;
  }

  #suspectLine(offset: number, lf: number, line: number | null, decoded: DecodedLine): void {
    const s = this.#suspect!;
    const damaged = (reason: string) => {
      s.damage.push({ offset, line, reason });
      s.damageEnd = lf + 1;
    };
    if (typeof decoded === 'string') return damaged(decoded);
    const env = decoded;
    if (env.commit === 0) {
      if (!this.#seals) return damaged('a seal in a version 1 journal');
      if (env.synced !== offset) {
        damaged(`a seal naming offset ${env.synced}, not its own`);
        return this.#confirm(offset, lf + 1, s.offset, s.heldLastSeq, s.heldLastTs);
      }
      return this.#vouch(offset, lf, offset, s.heldLastSeq, s.heldLastTs);
    }
    if (env.seq <= s.heldLastSeq) return damaged(`seq ${env.seq} does not follow seq ${s.heldLastSeq}`);
    if (env.ts < this.#tsSeen) this.tsBackwards = true;
    this.#tsSeen = env.ts;
    if (this.#collect) s.held.push({ seq: env.seq, ts: env.ts, data: env.data, offset });
    else if (this.#onRecord !== undefined) this.#onRecord(offset, lf, env);
    if (s.heldCount++ === 0) s.heldFirstSeq = env.seq;
    s.heldLastSeq = env.seq;
    s.heldLastTs = env.ts;
    if (env.commit !== undefined) this.#vouch(offset, lf, env.synced!, env.seq, env.ts);
  }

  /**
   * A commit mark or seal (the line `[offset, lf]`) while damage is looked into: if the offset it
   * vouches for as durable passes the damage, the damage is corruption.
   */
  #vouch(offset: number, lf: number, vouched: number, lastSeq: number, lastTs: number): void {
    const synced = Math.min(vouched, offset);
    if (synced > this.#suspect!.offset) this.#confirm(offset, lf + 1, synced, lastSeq, lastTs);
  }

  /**
   * The damage looked into was durable: corruption. Thrown, or reported with the intact records
   * around it committed, up to `end`.
   */
  #confirm(lastLine: number, end: number, synced: number, lastSeq: number, lastTs: number): void {
    const s = this.#suspect!;
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
    this.#commit(s.held, s.heldCount, lastLine, end, s.heldFirstSeq, lastSeq, lastTs, synced);
  }
}
