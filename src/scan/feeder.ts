/**
 * Reads a byte range of a journal in chunks, checks the frames of runs of lines at once, and feeds
 * each complete line, decoded, to a BatchScanner (docs/design.md, "Reading: the scan engine").
 */
import { isAscii } from 'node:buffer';
import { runCrcNative } from '../format/crc.js';
import { decodeLine, decodeMarks, newEnvelope, type DataMode, type DecodedLine } from '../format/envelope.js';
import { checkFrames, LF } from '../format/frame.js';
import { FRAME_PREFIX } from '../format/limits.js';
import { SEAL_TAIL_BYTES } from '../format/seal.js';
import { io } from '../fs/io.js';
import type { BatchScanner } from './batches.js';

const TOO_LONG: DecodedLine = 'line too long';
/** Bytes of lines decoded into one string: under V8's 128 KiB limit for objects outside the large-object space. */
const TEXT_RUN = 64 * 1024;
/** Room before each read-ahead for the unfinished line carried over from the chunk before. */
const HEAD = 64 * 1024;

/**
 * The LF that ends a run of lines from `start`: the last one within `max` bytes, or the first after
 * `start` for a longer line; `lastLf`, the last LF there is, when it is that close.
 */
export function runEndOf(buf: Uint8Array, start: number, lastLf: number, max: number): number {
  if (lastLf - start < max) return lastLf;
  const end = buf.lastIndexOf(LF, start + max - 1);
  return end >= start ? end : buf.indexOf(LF, start);
}

export interface FeederOptions {
  /** Records' data is not parsed when the layout allows (see decodeMarks). */
  marksOnly?: boolean;
  /** Otherwise, what data is decoded as. @default 'value' */
  dataMode?: DataMode;
  /**
   * Bytes from the offset this returns (the start of the batch not yet committed) stay in the
   * buffer, so that a batch's bytes can be viewed when it commits.
   */
  retain?: () => number;
  /**
   * Start reading the next chunk as soon as one is fed, so the read overlaps whatever the caller
   * does with the records before the next step(). For one pass to the end of a file: step()'s limit
   * must not change, reset() and stepSync() are not allowed, and settle() must run before the fd
   * is closed.
   */
  readAhead?: boolean;
  /**
   * Called after each chunk's complete lines are fed, with the offset just after the last of
   * them, while view() still shows them.
   */
  onFed?: (fedTo: number) => void;
}

export class LineFeeder {
  readonly #fd: number;
  readonly #chunkBytes: number;
  readonly #maxLineBytes: number;
  readonly #marksOnly: boolean;
  readonly #dataMode: DataMode;
  readonly #readAhead: boolean;
  /** What each line is decoded into; the scanner copies out what it keeps before the next line. */
  readonly #env = newEnvelope();
  #buf: Buffer;
  /** Bytes of an unfinished line kept at the start of #buf. */
  #carry = 0;
  /** File offset of the next byte to read. */
  #pos: number;
  /** File offset of an overlong line being skipped, or -1. */
  #skipFrom = -1;
  /** File offset of #buf[0] while a chunk is being fed. */
  #base = 0;
  /** File offset up to which lines have been fed. */
  #fedTo: number;
  /** With retain, the offset from which bytes are kept in #buf across steps (see view()). */
  readonly #retain: (() => number) | undefined;
  /** With readAhead, the read of the next chunk into #buf after the carried bytes, in flight. */
  #ahead: Promise<number> | null = null;
  /**
   * Read ahead into a second buffer (readAhead and marksOnly, without retain): the next chunk is read while this
   * one is fed, not only while the caller handles its records. Reads land at HEAD in one of two
   * buffers, and the unfinished line carried over is copied in front of them.
   */
  readonly #double: boolean;
  readonly #pair: [Buffer, Buffer] | null = null;
  /** With #double, where the carried bytes start in #buf. */
  #carryAt = 0;
  readonly #onFed: ((fedTo: number) => void) | undefined;
  /**
   * Frames are checked a run at a time (see checkFrames) rather than a CRC per line: for scans
   * that parse no data the CRC was most of the work per line, and for readers about a tenth.
   */
  readonly #checkRuns: boolean;
  /** The LF of each line of the run checkFrames checked. */
  readonly #lfs: Int32Array;
  /** The last bytes read, up to #pos: what a scan's end needs to see whether the file ends with a seal. */
  #lastBytes: Buffer = Buffer.alloc(0);

  constructor(fd: number, start: number, chunkBytes: number, maxLineBytes: number, opts: FeederOptions = {}) {
    this.#fd = fd;
    this.#pos = start;
    this.#fedTo = start;
    this.#retain = opts.retain;
    this.#chunkBytes = chunkBytes;
    this.#maxLineBytes = maxLineBytes;
    this.#marksOnly = opts.marksOnly ?? false;
    this.#dataMode = opts.dataMode ?? 'value';
    this.#readAhead = opts.readAhead ?? false;
    this.#onFed = opts.onFed;
    // Only for scans that parse no data (verify, compaction): a reader handing out parsed records
    // spends most of its time in JSON.parse, and measured no faster with it.
    this.#double = this.#readAhead && this.#retain === undefined && this.#marksOnly;
    this.#checkRuns = runCrcNative;
    // A run holds TEXT_RUN bytes or one line, and every line at least a frame and `{}`.
    this.#lfs = new Int32Array(this.#checkRuns ? Math.ceil(TEXT_RUN / (FRAME_PREFIX + 2)) + 1 : 0);
    if (this.#double) {
      this.#pair = [Buffer.allocUnsafe(HEAD + chunkBytes), Buffer.allocUnsafe(HEAD + chunkBytes)];
      this.#buf = this.#pair[0];
    } else {
      this.#buf = Buffer.allocUnsafe(chunkBytes);
    }
  }

  /** File offset up to which bytes have been read. */
  get pos(): number {
    return this.#pos;
  }

  /** The file's last bytes read, ending at pos (at most SEAL_TAIL_BYTES). */
  get lastBytes(): Buffer {
    return this.#lastBytes;
  }

  /** Forgets what was read after `pos` and goes on from there (a follower re-reading an unfinished tail). */
  reset(pos: number): void {
    if (this.#readAhead) throw new Error('internal: reset() of a feeder that reads ahead');
    this.#lastBytes = Buffer.alloc(0);
    this.#pos = pos;
    this.#fedTo = pos;
    this.#carry = 0;
    this.#skipFrom = -1;
  }

  /**
   * Reads the next chunk (not past `limit`) and feeds its complete lines to `scanner`.
   * Returns the number of bytes read: 0 at the limit or at the end of the file.
   */
  async step(scanner: BatchScanner, limit = Number.POSITIVE_INFINITY): Promise<number> {
    if (this.#double) return this.#stepDouble(scanner, limit);
    const n = await this.#read(() => this.#room(limit), () => this.#buf, this.#carry);
    const fed = this.#took(scanner, n);
    if (this.#readAhead && fed > 0) {
      const want = this.#room(limit);
      this.#readAheadInto(want, this.#buf, this.#carry);
    }
    return fed;
  }

  /**
   * The read ahead in flight, if any; else a read at #pos of as many bytes as `want` says (none at
   * 0) into the buffer `into` gives at `off`. `into` is called after `want`, which may grow #buf.
   */
  async #read(want: () => number, into: () => Buffer, off: number): Promise<number> {
    const ahead = this.#ahead;
    if (ahead !== null) {
      this.#ahead = null;
      return ahead;
    }
    const len = want();
    return len > 0 ? io.read(this.#fd, into(), off, len, this.#pos) : 0;
  }

  /** Starts reading `want` bytes at #pos into `buf` at `off`, for the next step. */
  #readAheadInto(want: number, buf: Buffer, off: number): void {
    if (want <= 0) return;
    this.#ahead = io.read(this.#fd, buf, off, want, this.#pos);
    // Its failure is reported by the step() that awaits it; if none does, settle() drops it.
    this.#ahead.catch(() => {});
  }

  /** The buffer of the pair that holds neither the bytes being fed nor the carried ones. */
  #free(): Buffer {
    const [a, b] = this.#pair!;
    return this.#buf === a ? b : a;
  }

  async #stepDouble(scanner: BatchScanner, limit: number): Promise<number> {
    const n = await this.#read(() => Math.min(this.#chunkBytes, limit - this.#pos), () => this.#free(), HEAD);
    if (n === 0) return 0;
    // The new bytes are at HEAD in the free buffer: put the carried line right before them.
    const into = this.#free();
    const carry = this.#carry;
    let end: number;
    if (carry <= HEAD) {
      this.#buf.copy(into, HEAD - carry, this.#carryAt, this.#carryAt + carry);
      this.#buf = into;
      end = HEAD + n;
    } else {
      // A line longer than the headroom so far: join the two in a buffer of their own.
      const joined = Buffer.allocUnsafe(carry + n);
      this.#buf.copy(joined, 0, this.#carryAt, this.#carryAt + carry);
      into.copy(joined, carry, HEAD, HEAD + n);
      this.#buf = joined;
      end = carry + n;
    }
    this.#pos += n;
    this.#remember(this.#buf, end - n, end);
    this.#readAheadInto(Math.min(this.#chunkBytes, limit - this.#pos), this.#free(), HEAD);
    this.#feed(scanner, end);
    return n;
  }

  /** step() with a synchronous read, for small ranges read under the writers' lock. */
  stepSync(scanner: BatchScanner, limit = Number.POSITIVE_INFINITY): number {
    if (this.#readAhead) throw new Error('internal: stepSync() of a feeder that reads ahead');
    const want = this.#room(limit);
    if (want <= 0) return 0;
    return this.#took(scanner, io.readSync(this.#fd, this.#buf, this.#carry, want, this.#pos));
  }

  /** Waits for a read ahead still in flight, so that its fd can be closed (and its number reused). */
  async settle(): Promise<void> {
    const ahead = this.#ahead;
    this.#ahead = null;
    await ahead?.catch(() => {});
  }

  #took(scanner: BatchScanner, n: number): number {
    if (n === 0) return 0;
    this.#pos += n;
    this.#remember(this.#buf, this.#carry, this.#carry + n);
    this.#feed(scanner, this.#carry + n);
    return n;
  }

  /** Keeps the last bytes read, `buf[from, to)` just read: the file's bytes up to #pos. */
  #remember(buf: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n >= SEAL_TAIL_BYTES) this.#lastBytes = Buffer.from(buf.subarray(to - SEAL_TAIL_BYTES, to));
    else {
      const joined = Buffer.concat([this.#lastBytes, buf.subarray(from, to)]);
      this.#lastBytes = joined.subarray(Math.max(0, joined.length - SEAL_TAIL_BYTES));
    }
  }

  /** How much the next read may take, with #buf grown to hold it after the carried bytes. */
  #room(limit: number): number {
    const want = Math.min(this.#chunkBytes, limit - this.#pos);
    if (want > 0 && this.#buf.length < this.#carry + want) {
      const bigger = Buffer.allocUnsafe(Math.max(this.#carry + want, this.#buf.length * 2));
      this.#buf.copy(bigger, 0, 0, this.#carry);
      this.#buf = bigger;
    }
    return want;
  }

  /** The bytes of `[start, end)` of the file, while the scanner is being fed (valid only until then). */
  view(start: number, end: number): Buffer {
    return this.#buf.subarray(start - this.#base, end - this.#base);
  }

  #feed(scanner: BatchScanner, end: number): void {
    const buf = this.#buf;
    const base = this.#pos - end;
    this.#base = base;
    const lastLf = buf.lastIndexOf(LF, end - 1);
    let i = this.#fedTo - base;
    while (i <= lastLf) {
      // One latin1 decode per run of lines instead of one utf8 decode per line: valid when the run
      // is ASCII. A run is kept under V8's size limit for ordinary heap objects: a longer string is
      // allocated in the large-object space, and decoding a whole 512 KiB chunk that way measured
      // ten times slower than decoding it in 64 KiB runs.
      const runEnd = runEndOf(buf, i, lastLf, TEXT_RUN);
      const text = !this.#marksOnly && isAscii(buf.subarray(i, runEnd + 1)) ? buf.toString('latin1', i, runEnd + 1) : undefined;
      const textBase = i;
      if (this.#checkRuns && this.#skipFrom < 0) {
        const lfs = this.#lfs;
        const lines = checkFrames(buf, i, runEnd, this.#maxLineBytes, lfs);
        if (lines >= 0) {
          const env = this.#env;
          for (let k = 0; k < lines; k++) {
            const lf = lfs[k]!;
            scanner.line(base + i, base + lf, this.#marksOnly ? decodeMarks(buf, i, lf, env, true) : (decodeLine(buf, i, lf, env, text, textBase, true, this.#dataMode) ?? env));
            i = lf + 1;
          }
          continue;
        }
      }
      while (i <= runEnd) {
        const lf = text !== undefined ? text.indexOf('\n', i - textBase) + textBase : buf.indexOf(LF, i);
        if (this.#skipFrom >= 0) {
          scanner.line(this.#skipFrom, base + lf, TOO_LONG);
          this.#skipFrom = -1;
        } else if (lf - i > this.#maxLineBytes) {
          // The same verdict as for a long line that spans reads: it must not depend on where a chunk ends.
          scanner.line(base + i, base + lf, TOO_LONG);
        } else {
          scanner.line(base + i, base + lf, this.#marksOnly ? decodeMarks(buf, i, lf, this.#env) : (decodeLine(buf, i, lf, this.#env, text, textBase, false, this.#dataMode) ?? this.#env));
        }
        i = lf + 1;
      }
    }
    this.#fedTo = base + i;
    this.#onFed?.(this.#fedTo);
    const rest = end - i;
    if (this.#skipFrom >= 0 || rest > this.#maxLineBytes) {
      if (this.#skipFrom < 0) this.#skipFrom = base + i;
      this.#fedTo = this.#pos;
      this.#carry = 0;
    } else {
      const keep = this.#retain === undefined ? i : Math.min(i, Math.max(0, this.#retain() - base));
      this.#carry = end - keep;
      if (this.#double) this.#carryAt = keep;
      else if (keep > 0 && end - keep > 0) buf.copy(buf, 0, keep, end);
    }
  }
}
