/**
 * The committed records of a scan, kept as byte ranges and parsed one at a time as a reader hands
 * them out, so that none waits parsed on the heap (docs/design.md, "Reading: the scan engine").
 */
import { isAscii } from 'node:buffer';
import { ErrorCode, JournalError } from '../errors.js';
import { dataOf, decodeLine, newEnvelope, utf8, type DataMode, type Envelope } from '../format/envelope.js';
import { LF } from '../format/frame.js';
import { runEndOf } from '../scan/feeder.js';
import type { JournalRecord } from './record-iterator.js';

/**
 * Bytes of lines decoded into one latin1 string when they are ASCII, each record's JSON then sliced
 * out of it: cheaper than decoding each record alone. Small, because the string lives while its
 * records are handed out, and what lives across a young-generation collection grows the young
 * generation: 64 KiB runs (the scan's size) took a 1 GB replay's RSS on Node 24 from 83 to 105 MB,
 * 8 KiB runs to 92 MB, for nearly all of their speed.
 */
const RUN = 8 * 1024;

/** Records the columns have room for at first; they double as a batch needs. */
const FIRST_ROOM = 4096;

/** A data that is not JSON, told apart from any value JSON.parse returns. */
const NOT_JSON = Symbol('not JSON');

/**
 * Fed by a scan in 'marks' mode: each record line as the scan meets it (record: its seq, ts and
 * where its data's JSON lies, which the marks pass read anyway), each committed batch (commit) and
 * the end of each chunk (fed). A record in the chunk just read is parsed from the scan's buffer,
 * which holds until the next read. The uncommitted bytes at a chunk's end are copied aside (the
 * spill): they will be gone from the buffer by the time their commit mark is read.
 */
export class CommittedLines {
  readonly #path: string;
  readonly #mode: DataMode;
  readonly #env = newEnvelope();
  /** The file's bytes `[start, end)` in the scan's buffer, valid until its next read. */
  readonly #view: (start: number, end: number) => Buffer;
  /**
   * Per record met and not yet handed out, in file order: seq, ts and the line's offset; and the
   * start and end of its data's JSON from the line's start, or -1 and the LF's when the line is laid
   * out otherwise. Numbers in typed arrays rather than an object per record: objects that outlive a
   * young-generation collection make V8 grow the young generation.
   */
  #nums = new Float64Array(3 * FIRST_ROOM);
  #spans = new Int32Array(2 * FIRST_ROOM);
  /** Records in the columns; of them, those committed; of those, the next to hand out. */
  #count = 0;
  #committed = 0;
  #next = 0;
  /** The chunk being handed out: its complete lines, from file offset #chunkAt. */
  #chunk: Buffer = Buffer.alloc(0);
  #chunkAt = 0;
  /** The spill the chunk being handed out continues: file offset #oldAt on, up to #chunkAt. */
  #old: Buffer = Buffer.alloc(0);
  #oldAt = 0;
  /** Whether #chunk and #old are this chunk's. */
  #ready = false;
  /** The lines from file offset #textAt to #textEnd of #textBuf as one latin1 string, if they are ASCII. */
  #text: string | undefined = undefined;
  #textBuf: Buffer | null = null;
  #textAt = 0;
  #textEnd = 0;
  /** Offset just after the last committed batch: where the uncommitted bytes start. */
  #committedEnd: number;
  /** Offset of the first byte of the chunk being scanned (the end of what the chunk before fed). */
  #chunkStart: number;
  /** The two buffers uncommitted bytes are spilled into, in turn: one may be handed out from while the other fills. */
  readonly #spills: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];
  /** Which spill holds the uncommitted bytes `[#spillFrom, #chunkStart)`, or -1. */
  #spill = -1;
  #spillFrom = 0;

  constructor(path: string, from: number, mode: DataMode, view: (start: number, end: number) => Buffer) {
    this.#path = path;
    this.#mode = mode;
    this.#view = view;
    this.#committedEnd = from;
    this.#chunkStart = from;
  }

  /** Call before each read of the scan: everything handed out so far is let go. */
  nextChunk(): void {
    const gone = this.#next;
    if (gone > 0) {
      this.#nums.copyWithin(0, 3 * gone, 3 * this.#count);
      this.#spans.copyWithin(0, 2 * gone, 2 * this.#count);
      this.#count -= gone;
      this.#committed -= gone;
      this.#next = 0;
    }
    this.#text = undefined;
    this.#textBuf = null;
    this.#ready = false;
  }

  /** The scan's onRecord: a record line joined its batch. */
  record(offset: number, lf: number, env: Envelope): void {
    const n = this.#count++;
    if (2 * n === this.#spans.length) this.#grow();
    const nums = this.#nums;
    nums[3 * n] = env.seq;
    nums[3 * n + 1] = env.ts;
    nums[3 * n + 2] = offset;
    const from = env.dataFrom!;
    this.#spans[2 * n] = from;
    this.#spans[2 * n + 1] = from >= 0 ? env.dataTo! : lf - offset;
  }

  /** The scan's onBatch: the batch ending at `end` committed, its `records` the last ones recorded. */
  commit(end: number, records: number): void {
    this.#committedEnd = end;
    this.#committed += records;
  }

  /** The scan's onFed: the chunk's lines up to `fedTo` are scanned; what is not committed is spilled. */
  fed(fedTo: number): void {
    const start = this.#chunkStart;
    const from = this.#committedEnd;
    this.#handOutTo(fedTo);
    if (from < start) {
      // Nothing committed in this chunk, so nothing is handed out of the spill: it grows in place.
      const have = start - this.#spillFrom;
      const buf = this.#ensure(this.#spill, have + fedTo - start, have);
      this.#chunk.copy(buf, have);
    } else if (from < fedTo) {
      // Records of this chunk may be handed out of the other spill: this one starts afresh.
      this.#spill = this.#spill === 0 ? 1 : 0;
      this.#spillFrom = from;
      const buf = this.#ensure(this.#spill, fedTo - from, 0);
      this.#chunk.copy(buf, 0, from - start);
    } else {
      this.#spill = -1;
    }
    this.#chunkStart = fedTo;
  }

  /** Where this chunk's records are handed out from: its lines up to `end`, and the spill before them. */
  #handOutTo(end: number): void {
    this.#chunk = this.#view(this.#chunkStart, end);
    this.#chunkAt = this.#chunkStart;
    if (this.#spill >= 0) {
      this.#old = this.#spills[this.#spill]!;
      this.#oldAt = this.#spillFrom;
    }
    this.#ready = true;
  }

  /**
   * The next committed record, or undefined when those of this chunk are all handed out. A line
   * whose checksum is right but whose data is not JSON, which only a faulty writer makes, is
   * reported here, as corruption.
   */
  next(): JournalRecord | undefined {
    const k = this.#next;
    if (k === this.#committed) return undefined;
    // A scan that threw at damage fed no end of its chunk; the batches before the damage are handed out still.
    if (!this.#ready) this.#handOutTo(this.#committedEnd);
    this.#next = k + 1;
    const nums = this.#nums;
    const offset = nums[3 * k + 2]!;
    const from = this.#spans[2 * k]!;
    const to = this.#spans[2 * k + 1]!;
    let data = from >= 0 ? this.#parse(offset, from, to) : NOT_JSON;
    if (data === NOT_JSON) data = this.#decode(offset, from >= 0 ? -1 : to);
    return { seq: nums[3 * k]!, ts: nums[3 * k + 1]!, data, offset };
  }

  /** The data of the record whose line starts at `offset`, from its JSON's `[from, to)`; NOT_JSON if it is not JSON. */
  #parse(offset: number, from: number, to: number): unknown {
    const inChunk = offset >= this.#chunkAt;
    const buf = inChunk ? this.#chunk : this.#old;
    const base = inChunk ? this.#chunkAt : this.#oldAt;
    if (buf !== this.#textBuf || offset + to > this.#textEnd) this.#run(buf, base, offset, inChunk);
    const text = this.#text;
    const at = offset - this.#textAt;
    try {
      return dataOf(text !== undefined ? text.slice(at + from, at + to) : utf8(buf, offset - base + from, offset - base + to), this.#mode);
    } catch {
      return NOT_JSON;
    }
  }

  /**
   * Decodes the lines of `buf` (file offset `base` on) from the one at `offset`, about RUN bytes of
   * committed ones, into #text if they are ASCII.
   */
  #run(buf: Buffer, base: number, offset: number, inChunk: boolean): void {
    // Both ends are just after an LF: the end of a batch, of what a chunk fed, of what was spilled.
    const last = Math.min(this.#committedEnd, inChunk ? base + buf.length : this.#chunkAt) - 1 - base;
    const start = offset - base;
    const end = runEndOf(buf, start, last, RUN);
    this.#text = isAscii(buf.subarray(start, end + 1)) ? buf.toString('latin1', start, end + 1) : undefined;
    this.#textBuf = buf;
    this.#textAt = offset;
    this.#textEnd = base + end + 1;
  }

  /**
   * The data of the record whose line starts at `offset` (and ends at the LF at `lf`, if known),
   * decoded from the whole line: a line of another layout, or one whose data is not JSON.
   */
  #decode(offset: number, lf: number): unknown {
    const inChunk = offset >= this.#chunkAt;
    const buf = inChunk ? this.#chunk : this.#old;
    const start = offset - (inChunk ? this.#chunkAt : this.#oldAt);
    const end = lf >= 0 ? start + lf : buf.indexOf(LF, start);
    const bad = decodeLine(buf, start, end, this.#env, undefined, 0, true, this.#mode);
    if (bad !== null) {
      throw new JournalError(ErrorCode.CORRUPT, `${this.#path}: damaged record at offset ${offset} before durable data: ${bad}`, { path: this.#path, offset });
    }
    return this.#env.data;
  }

  #grow(): void {
    const nums = new Float64Array(2 * this.#nums.length);
    nums.set(this.#nums);
    this.#nums = nums;
    const spans = new Int32Array(2 * this.#spans.length);
    spans.set(this.#spans);
    this.#spans = spans;
  }

  /** Spill `i`'s buffer, grown to hold `bytes` with its first `keep` bytes kept. */
  #ensure(i: number, bytes: number, keep: number): Buffer {
    const buf = this.#spills[i]!;
    if (buf.length >= bytes) return buf;
    const bigger = Buffer.allocUnsafeSlow(Math.max(bytes, buf.length * 2, 64 * 1024));
    buf.copy(bigger, 0, 0, keep);
    this.#spills[i] = bigger;
    return bigger;
  }
}
