/**
 * follow(): replays a journal from a seq, then yields new records as any process appends them,
 * like `tail -f` but record-exact, across compactions (docs/design.md, "Following").
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { decodeLine, newEnvelope } from '../format/envelope.js';
import { isVersion2, type Header } from '../format/header.js';
import { MAX_LINE_BYTES } from '../format/limits.js';
import { syncDirOf } from '../fs/durable.js';
import { dirOf, io } from '../fs/io.js';
import { openJournalFile } from '../scan/open.js';
import { FOLLOW_CHUNK_BYTES as CHUNK_BYTES, JournalScan } from '../scan/scan.js';
import { findLine, seekSeq, seekTs } from '../scan/seek.js';
import { lastRecords } from '../scan/tail.js';
import { countOption, msOf, type TimeOption } from './range.js';
import { checkDataMode, RecordIterator, type DataMode, type JournalRecord } from './record-iterator.js';

export interface FollowOptions {
  /** The first seq to yield. Without it, the follower starts at the oldest record there is. */
  fromSeq?: number;
  /**
   * Start at the first record with ts >= fromTs (ms since the epoch, or a Date), found by bisection
   * in a version 2 journal; every record after it follows.
   */
  fromTs?: TimeOption;
  /** Start with the last `last` records there are (read from the end), then follow: `tail -n N -f`; 0: only new ones. */
  last?: number;
  /** Ends the iteration (without an error) and releases the file, watcher and timer. */
  signal?: AbortSignal;
  /**
   * Yield only records a power loss cannot take back. When no commit mark in the file proves a
   * batch durable yet, the follower fdatasyncs the journal from its own descriptor first: one
   * call per read, cheap when the writer synced already. Turning it off saves that call and can
   * hand out records that a power loss then removes (and that new records may later reuse the
   * seqs of). @default true
   */
  durableOnly?: boolean;
  /**
   * When the seq to resume from was removed by retention: 'error' fails with POSITION_GONE;
   * 'oldest' goes on from the oldest record still there (Kafka's auto.offset.reset=earliest).
   * @default 'error'
   */
  onPositionGone?: 'error' | 'oldest';
  /** Poll interval in ms, the fallback for missed watch events. @default 200 */
  pollMs?: number;
  /** What each record's data is: 'value' (parsed), 'text' (the JSON exactly as stored) or 'bigint'. @default 'value' */
  data?: DataMode;
}

/** The largest single read used to take in an unfinished batch or damaged stretch whole. */
const MAX_ONE_READ = 64 * 1024 * 1024;

export class Follower<T = unknown> extends RecordIterator<T> {
  readonly path: string;
  readonly #dir: string;
  readonly #base: string;
  readonly #signal: AbortSignal | undefined;
  readonly #durableOnly: boolean;
  readonly #gone: 'error' | 'oldest';
  readonly #pollMs: number;
  readonly #data: DataMode;

  /** The next seq to yield; records below it are skipped. */
  #nextSeq: number;
  /** Records before the first with ts >= this are skipped; once one is yielded, -Infinity. */
  #fromTs: number;
  /** With `last`: how many records to start with, until the position is found. */
  #last: number | undefined;
  /** Whether the position was asked for (fromSeq) or reached: only then can it be "gone". */
  #positioned: boolean;
  /** The last record yielded, where it is in the current file; null if it was read from an earlier one. */
  #lastYielded: { seq: number; offset: number } | null = null;
  /**
   * The last record yielded, as the file it was read from held it, once that file was replaced: a
   * new file must hold it too, or the journal was truncated behind the follower.
   */
  #yieldedBefore: KeptRecord | null = null;

  #fd = -1;
  #dev = 0;
  #ino = 0;
  #header: Header | null = null;
  #scan: JournalScan | null = null;
  /** A failure found after records that are still to be handed out: thrown by the next read. */
  #deferred: JournalError | null = null;
  /** Where the current scan began, and whether that may be inside a batch. */
  #scanStart = 0;
  #scanMid = false;
  /** Offset known durable in the current file (by a commit mark or this follower's fdatasync). */
  #durableEnd = 0;
  /** The file's size and mtime when the last read reached its end: a wake-up that finds them unchanged skips reading. */
  #atEnd = '';

  #closed = false;

  #watchStarted = false;
  #watcher: fs.FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #wake: (() => void) | null = null;
  /** Set by a watch event that came while nobody was waiting. */
  #poked = false;
  readonly #onAbort = () => this.#wake?.();

  constructor(file: string, opts: FollowOptions = {}) {
    super(opts.signal);
    if (opts.fromSeq !== undefined && !(Number.isSafeInteger(opts.fromSeq) && opts.fromSeq >= 1)) {
      throw new RangeError('fromSeq must be a positive integer');
    }
    if (opts.onPositionGone !== undefined && opts.onPositionGone !== 'error' && opts.onPositionGone !== 'oldest') {
      throw new TypeError(`onPositionGone must be 'error' or 'oldest'`);
    }
    this.path = file;
    this.#dir = dirOf(file);
    this.#base = path.basename(file);
    this.#signal = opts.signal;
    this.#durableOnly = opts.durableOnly ?? true;
    this.#gone = opts.onPositionGone ?? 'error';
    this.#pollMs = opts.pollMs ?? 200;
    this.#data = checkDataMode(opts.data);
    this.#nextSeq = opts.fromSeq ?? 1;
    this.#fromTs = msOf('fromTs', opts.fromTs) ?? Number.NEGATIVE_INFINITY;
    this.#last = countOption('last', opts.last);
    this.#positioned = opts.fromSeq !== undefined;
    this.#signal?.addEventListener('abort', this.#onAbort);
  }

  /** The header of the file being followed (null until it is open). */
  get header(): Header | null {
    return this.#header;
  }

  protected async fill(): Promise<IteratorResult<JournalRecord<T>>> {
    try {
      this.#startWatching();
      for (;;) {
        if (this.#closed || this.#signal?.aborted) {
          await this.close();
          return this.dropBatch();
        }
        if (this.#fd < 0 && !(await this.#open())) {
          await this.#waitForChange();
          continue;
        }
        const records = this.#stamp() === this.#atEnd ? null : await this.#read();
        if (records !== null) return this.handOut(records, 0);
        if (await this.#replaced()) continue;
        await this.#waitForChange();
      }
    } catch (err) {
      await this.close();
      if (err instanceof JournalError) throw err;
      throw ioError('cannot follow', this.path, err);
    }
  }

  /**
   * Reads on from where the last read stopped. Returns the new committed records at or after
   * #nextSeq, or null at the end of the file.
   */
  async #read(): Promise<JournalRecord[] | null> {
    if (this.#deferred !== null) throw this.#deferred;
    for (;;) {
      const scan = this.#scan!;
      const asked = scan.chunkBytes;
      // Taken before the read: a stamp taken after a read that found the end could include bytes
      // appended in between, and the wake-ups that find it unchanged would never read them.
      const stamp = this.#stamp();
      let n: number;
      let out: JournalRecord[];
      try {
        n = await scan.step();
        out = scan.take();
      } catch (err) {
        // Damage under durable data ends the follow, but the batches committed before it in the
        // same read are handed out first. They need no fdatasync: the commit mark that proved the
        // damage durable vouches for every byte before it.
        out = scan.take();
        if (!(err instanceof JournalError) || out.every((r) => r.seq < this.#nextSeq)) throw err;
        this.#deferred = err;
        n = 0;
      }
      if (this.#deferred !== null) {
        const records = out.filter((r) => r.seq >= this.#nextSeq);
        this.#yielded(records[records.length - 1]!);
        return records;
      }
      const atEof = n < asked;
      const held = scan.pos - scan.committedEnd;
      if (held > 0) {
        // Bytes after the last committed batch: a batch not complete in this read, a torn tail or
        // damage. They are never joined to the bytes of a later read: between two reads a writer
        // may cut a torn tail and write another batch there, and old lines spliced onto new ones
        // could pass for a batch, or for damage under durable data. So read them again from the
        // end of the last batch, in one read big enough to reach past them. The read size is
        // bounded by the largest batch (or damaged stretch); past MAX_ONE_READ it reads on in chunks.
        // Reads stay that big while catching up, and several batches big: every read ends in the
        // middle of a batch, and a read of twice a batch's size decoded (and parsed) half as many
        // bytes again as the file holds.
        if (atEof) this.#restartAt(scan.committedEnd, scan.lastSeq, CHUNK_BYTES);
        else if (held * 4 <= asked) this.#restartAt(scan.committedEnd, scan.lastSeq, asked);
        else if (held * 2 <= MAX_ONE_READ) this.#restartAt(scan.committedEnd, scan.lastSeq, Math.min(MAX_ONE_READ, Math.max(CHUNK_BYTES, held * 8)));
      } else if (atEof && asked !== CHUNK_BYTES) {
        // Caught up: back to small reads (and a small buffer) at the live end.
        this.#restartAt(scan.committedEnd, scan.lastSeq, CHUNK_BYTES);
      }
      let i = 0;
      while (i < out.length && (out[i]!.seq < this.#nextSeq || out[i]!.ts < this.#fromTs)) i++;
      if (i < out.length) {
        const records = i === 0 ? out : out.slice(i);
        this.#fromTs = Number.NEGATIVE_INFINITY;
        if (this.#durableOnly && scan.committedEnd > Math.max(this.#durableEnd, scan.synced)) {
          try {
            await io.fdatasync(this.#fd);
          } catch (err) {
            throw ioError('fdatasync failed on', this.path, err, ErrorCode.SYNC_FAILED);
          }
          this.#durableEnd = scan.committedEnd;
        }
        this.#yielded(records[records.length - 1]!);
        this.#positioned = true;
        return records;
      }
      if (atEof) {
        this.#atEnd = stamp;
        return null;
      }
    }
  }

  #yielded(last: JournalRecord): void {
    this.#nextSeq = last.seq + 1;
    this.#lastYielded = { seq: last.seq, offset: last.offset };
    this.#yieldedBefore = null;
  }

  /** Opens the journal, or returns false if it does not exist yet. */
  async #open(): Promise<boolean> {
    let opened;
    try {
      opened = await openJournalFile(this.path, 'r');
    } catch (err) {
      if (err instanceof JournalError && err.code === ErrorCode.NOT_FOUND) return false;
      throw err;
    }
    const { fd, header, headerEnd } = opened;
    this.#fd = fd;
    if (this.#durableOnly) {
      // The name may point at a file a compactor renamed into place and died before making durable.
      await syncDirOf(this.path);
    }
    this.#atEnd = '';
    const id = io.fstatSync(fd);
    this.#dev = id.dev;
    this.#ino = id.ino;
    this.#header = header;
    this.#durableEnd = headerEnd;
    const before = this.#yieldedBefore;
    // Every seq up to maxSeq was assigned before this file was written, and a compaction copies the
    // records appended while it ran as they are. A record yielded past maxSeq that this file does
    // not hold as it was was dropped by a truncation, and its seq may be assigned again.
    if (before !== null && before.seq > header.maxSeq) {
      const now = await recordAt(fd, await seekSeq(fd, headerEnd, id.size, before.seq, MAX_LINE_BYTES), id.size, before.seq);
      if (now === null || now.ts !== before.ts || now.data !== before.data) {
        throw new JournalError(ErrorCode.DIVERGED,
          `${this.path}: this follower yielded seq ${before.seq}, and the journal ${now === null ? 'no longer holds it' : 'now holds another record under it'}: ` +
          `it was truncated to seq ${header.maxSeq} (or replaced by another journal), and the seqs after that may name other records`, { path: this.path });
      }
    }
    if (this.#positioned && this.#nextSeq < header.minSeq) {
      if (this.#gone === 'error') {
        throw new JournalError(ErrorCode.POSITION_GONE, `${this.path}: records from seq ${this.#nextSeq} were removed by retention; the oldest kept is seq ${header.minSeq} or later`, { path: this.path });
      }
      this.#nextSeq = 1;
    }
    if (this.#last !== undefined) {
      // With last: 0, only what is appended from now on, as tail -n 0 -f.
      const tail = await lastRecords(fd, this.path, headerEnd, id.size, Math.max(this.#last, 1), isVersion2(header), MAX_LINE_BYTES);
      if (tail !== null) this.#nextSeq = Math.max(this.#nextSeq, this.#last === 0 ? tail.lastSeq + 1 : tail.firstSeq);
      this.#last = undefined;
    }
    let start = this.#nextSeq > 1 ? await seekSeq(fd, headerEnd, id.size, this.#nextSeq, MAX_LINE_BYTES) : headerEnd;
    if (Number.isFinite(this.#fromTs) && isVersion2(header)) start = Math.max(start, await seekTs(fd, headerEnd, id.size, this.#fromTs, MAX_LINE_BYTES));
    this.#scanStart = start;
    this.#scanMid = start !== headerEnd;
    this.#scan = new JournalScan(fd, { path: this.path, from: start, chunkBytes: CHUNK_BYTES, midBatch: this.#scanMid, seals: isVersion2(header), onCorrupt: 'throw', decode: 'data', dataMode: this.#data });
    return true;
  }

  #stamp(): string {
    const st = io.fstatSync(this.#fd);
    return `${st.size}:${st.mtimeMs}`;
  }

  #restartAt(pos: number, prevSeq: number, chunk: number): void {
    // Still at the line where reading began after a seek: that may be the middle of a batch.
    const midBatch = this.#scanMid && pos === this.#scanStart;
    this.#scan!.restart(pos, prevSeq, midBatch, chunk);
    this.#scanStart = pos;
    this.#scanMid = midBatch;
  }

  /** Whether the path now names another file (compaction); if so, moves to it. */
  async #replaced(): Promise<boolean> {
    const now = io.statSync(this.path);
    if (now !== null && now.ino === this.#ino && now.dev === this.#dev) {
      // Same file. If it shrank below what was committed, it was rewritten in place (repair): start over from the position.
      if (now.size >= this.#scan!.committedEnd) return false;
    }
    if (now === null) return false;
    if (this.#lastYielded !== null) {
      this.#yieldedBefore = await recordAt(this.#fd, this.#lastYielded.offset, io.fstatSync(this.#fd).size, this.#lastYielded.seq);
      this.#lastYielded = null;
    }
    await this.#closeFile();
    return true;
  }

  #startWatching(): void {
    if (this.#watchStarted || this.#closed) return;
    this.#watchStarted = true;
    try {
      this.#watcher = fs.watch(this.#dir, (_event, name) => {
        if (name === null || name === this.#base) this.#poke();
      });
      this.#watcher.on('error', () => {
        // The directory went away or cannot be watched: polling still covers it.
        this.#watcher?.close();
        this.#watcher = null;
      });
    } catch {
      this.#watcher = null;
    }
  }

  #poke(): void {
    if (this.#wake !== null) this.#wake();
    else this.#poked = true;
  }

  #waitForChange(): Promise<void> {
    if (this.#poked || this.#signal?.aborted) {
      this.#poked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = null;
        if (this.#timer !== null) clearTimeout(this.#timer);
        this.#timer = null;
        resolve();
      };
      this.#timer = setTimeout(this.#wake, this.#pollMs);
    });
  }

  async #closeFile(): Promise<void> {
    const fd = this.#fd;
    this.#fd = -1;
    this.#scan = null;
    if (fd >= 0) await io.close(fd).catch(() => {});
  }

  protected async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.dropBatch();
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#wake?.();
    await this.#closeFile();
  }
}

/** A record's seq, ts and data as its line stores them. */
interface KeptRecord {
  seq: number;
  ts: number;
  data: string;
}

/**
 * The record with seq `seq`, looked for from `start`, a line start at or before it (see seekSeq);
 * null if the file holds no such record.
 */
async function recordAt(fd: number, start: number, size: number, seq: number): Promise<KeptRecord | null> {
  // A record, not a seal; the byte before a line start is the LF that ends the line before it.
  const line = await findLine(fd, start - 1, size, MAX_LINE_BYTES * 2, (env) => env.commit !== 0 && env.seq >= seq);
  if (line === null || line.seq !== seq) return null;
  const bytes = Buffer.allocUnsafe(line.end - line.start);
  let got = 0;
  while (got < bytes.length) {
    const n = await io.read(fd, bytes, got, bytes.length - got, line.start + got);
    if (n === 0) return null;
    got += n;
  }
  const env = newEnvelope();
  if (decodeLine(bytes, 0, bytes.length - 1, env, undefined, 0, false, 'text') !== null) return null;
  return { seq, ts: env.ts, data: env.data as string };
}

/**
 * Replays the journal from `fromSeq` (or its oldest record), then yields records as they are
 * appended, until the signal aborts or the loop breaks. `T` is the type of the records' data, as
 * the caller says; nothing checks it.
 *
 *   for await (const rec of follow<OrderEvent>(path, { fromSeq, signal })) { ... }
 */
export function follow<T = unknown>(path: string, opts?: FollowOptions & { data?: 'value' | 'bigint' }): Follower<T>;
/** With `data: 'text'`, each record's data is its JSON text, a string. */
export function follow(path: string, opts: FollowOptions & { data: 'text' }): Follower<string>;
/** With a data mode known only at run time, each record's data is a T, or its JSON text with `data: 'text'`. */
export function follow<T = unknown>(path: string, opts?: FollowOptions): Follower<T | string>;
export function follow(path: string, opts?: FollowOptions): Follower {
  if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
  return new Follower(path, opts);
}
