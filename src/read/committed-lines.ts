/**
 * The bytes of committed batches, kept for a reader to decode one record at a time as it hands
 * them out. Records are parsed only when the caller asks for them, so none waits parsed on the
 * heap: not the records of a batch whose commit mark is still to come, nor those of a chunk not yet
 * handed out. Objects that outlive a young-generation collection make V8 grow the young
 * generation, which on Node 22 and later may reach 64 MB per semi-space: a reader that kept a large
 * batch parsed until its commit doubled its RSS that way.
 *
 * The scan runs in 'marks' mode and reports each committed batch (commit) and the end of each chunk
 * (fed). A batch inside the chunk just read is decoded from the scan's buffer, which holds until
 * the next read. The uncommitted bytes at a chunk's end are copied aside (the spill): they will be
 * gone from the buffer by the time their commit mark is read.
 */
import { isAscii } from 'node:buffer';
import { ErrorCode, JournalError } from '../errors.js';
import { decodeLine, newEnvelope, type DataMode } from '../format/envelope.js';
import { LF } from '../format/frame.js';
import { runEndOf } from '../scan/feeder.js';
import type { JournalRecord } from './record-iterator.js';

/** Committed lines: `buf`, the file's bytes from offset `at`. */
interface Segment {
  buf: Buffer;
  at: number;
}

/** One of the two buffers batches are spilled into; a segment may point into it until the next chunk. */
interface Spill {
  buf: Buffer;
  /** A segment of the chunk being handed out points into it. */
  inUse: boolean;
}

/**
 * Bytes of lines decoded into one latin1 string when they are ASCII, each record's JSON then sliced
 * out of it: cheaper than decoding each record alone. Small, because the string lives while its
 * records are handed out, and what lives across a young-generation collection grows the young
 * generation: 64 KiB runs (the scan's size) took a 1 GB replay's RSS on Node 24 from 83 to 105 MB,
 * 8 KiB runs to 92 MB, for nearly all of their speed.
 */
const RUN = 8 * 1024;

export class CommittedLines {
  readonly #path: string;
  readonly #mode: DataMode;
  readonly #env = newEnvelope();
  /** The file's bytes `[start, end)` in the scan's buffer, valid until its next read. */
  readonly #view: (start: number, end: number) => Buffer;
  #segments: Segment[] = [];
  #seg = 0;
  #pos = 0;
  /** The lines of the segment from #textBase to #textEnd as one latin1 string, if they are ASCII. */
  #text: string | undefined = undefined;
  #textBase = 0;
  #textEnd = 0;
  /** Offset just after the last committed batch: where the uncommitted bytes start. */
  #committedEnd: number;
  /** Offset of the first byte of the chunk being scanned (the end of what the chunk before fed). */
  #chunkStart: number;
  readonly #spills: [Spill, Spill] = [{ buf: Buffer.alloc(0), inUse: false }, { buf: Buffer.alloc(0), inUse: false }];
  /** The spill holding the uncommitted bytes `[#spillFrom, #chunkStart)`, or null. */
  #spill: Spill | null = null;
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
    this.#textEnd = 0;
    this.#text = undefined;
    this.#segments = [];
    this.#seg = 0;
    this.#pos = 0;
    this.#spills[0].inUse = false;
    this.#spills[1].inUse = false;
  }

  /** The scan's onBatch: the batch ending at `end` committed (records: 0 for a seal). */
  commit(end: number, records: number): void {
    const start = this.#committedEnd;
    this.#committedEnd = end;
    const spill = this.#spill;
    this.#spill = null;
    if (records === 0) return;
    if (start >= this.#chunkStart) return this.#add(this.#view(start, end), start);
    // Begun in an earlier chunk: its first part is in the spill, the rest in this chunk.
    const have = this.#chunkStart - start;
    const buf = this.#ensure(spill!, have + (end - this.#chunkStart));
    this.#view(this.#chunkStart, end).copy(buf, have);
    spill!.inUse = true;
    this.#add(buf.subarray(0, have + end - this.#chunkStart), start);
  }

  /** The scan's onFed: the chunk's lines up to `fedTo` are scanned; what is not committed is spilled. */
  fed(fedTo: number): void {
    const from = this.#committedEnd;
    if (from < fedTo) {
      let spill = this.#spill;
      let have = 0;
      if (spill !== null) have = this.#chunkStart - this.#spillFrom;
      else {
        spill = this.#spills[0].inUse ? this.#spills[1] : this.#spills[0];
        this.#spillFrom = from;
      }
      const buf = this.#ensure(spill, have + fedTo - Math.max(from, this.#chunkStart));
      this.#view(Math.max(from, this.#chunkStart), fedTo).copy(buf, have);
      this.#spill = spill;
    }
    this.#chunkStart = fedTo;
  }

  /**
   * The next committed record (skipping seals), or undefined when those of this chunk are all
   * handed out. A line whose checksum is right but whose data is not JSON, which only a faulty
   * writer makes, is reported here, as corruption.
   */
  next(): JournalRecord | undefined {
    const env = this.#env;
    while (this.#seg < this.#segments.length) {
      const s = this.#segments[this.#seg]!;
      const start = this.#pos;
      if (start >= s.buf.length) {
        this.#seg++;
        this.#pos = 0;
        this.#textEnd = 0;
        continue;
      }
      if (start >= this.#textEnd) this.#run(s.buf, start);
      const lf = s.buf.indexOf(LF, start);
      this.#pos = lf + 1;
      const bad = decodeLine(s.buf, start, lf, env, this.#text, this.#textBase, true, this.#mode);
      const offset = s.at + start;
      if (bad !== null) {
        throw new JournalError(ErrorCode.CORRUPT, `${this.#path}: damaged record at offset ${offset} before durable data: ${bad}`, { path: this.#path, offset });
      }
      if (env.commit === 0) continue;
      return { seq: env.seq, ts: env.ts, data: env.data, offset };
    }
    return undefined;
  }

  /** Decodes the lines from `start` on, about RUN bytes of them, into #text if they are ASCII. */
  #run(buf: Buffer, start: number): void {
    // A segment holds whole lines: its last byte is an LF.
    const end = runEndOf(buf, start, buf.length - 1, RUN);
    this.#text = isAscii(buf.subarray(start, end + 1)) ? buf.toString('latin1', start, end + 1) : undefined;
    this.#textBase = start;
    this.#textEnd = end + 1;
  }

  #add(bytes: Buffer, at: number): void {
    const last = this.#segments.at(-1);
    // Consecutive batches in the scan's buffer are one segment.
    if (last !== undefined && last.buf.buffer === bytes.buffer && last.buf.byteOffset + last.buf.length === bytes.byteOffset) {
      last.buf = Buffer.from(bytes.buffer, last.buf.byteOffset, last.buf.length + bytes.length);
      return;
    }
    this.#segments.push({ buf: bytes, at });
  }

  /** The spill's buffer, grown to hold `bytes` with its first bytes kept. */
  #ensure(spill: Spill, bytes: number): Buffer {
    if (spill.buf.length < bytes) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(bytes, spill.buf.length * 2, 64 * 1024));
      spill.buf.copy(bigger, 0, 0, Math.min(spill.buf.length, bytes));
      spill.buf = bigger;
    }
    return spill.buf;
  }
}
