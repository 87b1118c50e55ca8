/**
 * Named consumers: a durable position per consumer, so that a consumer process resumes after the
 * last record it committed, and can tell when the journal no longer holds that record (divergence).
 */
import { crc32 } from '../format/crc.js';
import { ErrorCode, JournalError } from '../errors.js';
import type { StoredPosition } from '../positions/entry.js';
import { checkConsumerName } from '../positions/layout.js';
import { LiveLock } from '../positions/liveness.js';
import { removeLegacyPosition } from '../positions/legacy.js';
import { readPositions } from '../positions/store.js';
import { follow, type FollowOptions, type Follower } from '../read/follow.js';
import { journalInfo } from '../read/info.js';
import { readJournal, type DataMode, type JournalRecord } from '../read/reader.js';
import { deleteConsumer, resetConsumer, type DeleteResult, type ResetOptions, type ResetResult } from './manage.js';
import { PositionsWriter } from './positions-writer.js';
import { checkTarget, nextSeqFor, type SeekTarget } from './targets.js';

export interface ConsumerOptions {
  /**
   * A consumer not seen for this long (ms) is expired: compaction no longer keeps records it has not
   * read (JetStream's InactiveThreshold). It is seen when it opens, commits, and every half of this
   * while open. `null`: never expires. Stored with the position; without it, the stored setting stays.
   * @default null for a new consumer
   */
  expireAfterMs?: number | null;
}

/**
 * A record's fingerprint: its ts and the CRC of its data as JSON.stringify writes the parsed value.
 * The same whichever data mode the record was read in, so that a consumer reading text (exact
 * numbers) and one reading values agree on it.
 */
export function fingerprint(rec: JournalRecord, mode: DataMode = 'value'): string {
  const json = mode === 'text' ? JSON.stringify(JSON.parse(rec.data as string))
    : mode === 'bigint' ? JSON.stringify(rec.data, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))
    : JSON.stringify(rec.data);
  return `${rec.ts}:${crc32(Buffer.from(json)).toString(16)}`;
}

/** `T` is the type of the records' data, as the caller says; nothing checks it. */
export class Consumer<T = unknown> implements AsyncDisposable {
  readonly path: string;
  readonly name: string;
  readonly #lock: LiveLock;
  readonly #writer: PositionsWriter;
  /** The position as durably stored. */
  #pos: StoredPosition;
  /** The highest seq a commit was asked for in this epoch (the position once those commits are durable). */
  #requested: number;
  /** The write of the latest commit asked for. */
  #lastWrite: Promise<void> = Promise.resolve();
  #lastWriteAt = Date.now();
  /** The id of the journal the handed-out records came from (compaction keeps it). */
  #journal: string | null = null;
  /** Records handed out and not yet committed, by seq, with the data mode each was read in (for their fingerprints). */
  #uncommitted = new Map<number, { rec: JournalRecord; mode: DataMode }>();
  #lastYielded = 0;
  /** Raised by every seek: a running iteration then starts again from the new position. */
  #generation = 0;
  readonly #iterations = new Set<() => Promise<void>>();
  #heartbeat: NodeJS.Timeout | null = null;
  #failed: unknown = null;
  #closing: Promise<void> | null = null;

  private constructor(file: string, name: string, pos: StoredPosition, lock: LiveLock, writer: PositionsWriter) {
    this.path = file;
    this.name = name;
    this.#pos = pos;
    this.#requested = pos.seq;
    this.#lock = lock;
    this.#writer = writer;
    if (pos.expireAfterMs !== null) {
      // Seen at least every half of expireAfterMs while open, so that it expires that long after it stops.
      const every = Math.max(1, Math.floor(pos.expireAfterMs / 2));
      this.#heartbeat = setInterval(() => {
        if (Date.now() - this.#lastWriteAt >= every && this.#failed === null && this.#closing === null) void this.#write(this.#pos).catch(() => {});
      }, every);
      this.#heartbeat.unref();
    }
  }

  /**
   * Opens the named consumer of the journal at `path`, or creates it at seq 0, and stores that it
   * was seen. While open it holds its lock: a second open of the name, in this process or another,
   * fails with CONSUMER_BUSY until close().
   */
  static async open<T = unknown>(file: string, name: string, opts: ConsumerOptions = {}): Promise<Consumer<T>> {
    if (typeof file !== 'string' || file === '') throw new TypeError('path must be a non-empty string');
    checkConsumerName(name);
    const expire = opts.expireAfterMs;
    if (expire !== undefined && expire !== null && !(Number.isSafeInteger(expire) && expire > 0)) {
      throw new RangeError('expireAfterMs must be a positive integer (ms) or null');
    }
    const lock = await LiveLock.hold(file, name, false);
    let writer: PositionsWriter | null = null;
    try {
      const positions = await readPositions(file);
      const stored = positions.get(name);
      // A consumer made anew after a delete starts above the deletion's epoch.
      const pos: StoredPosition = stored ?? {
        name, seq: 0, epoch: positions.epoch(name) + 1, journal: null, fingerprint: null, updated: 0, lastActive: 0, expireAfterMs: null, group: false,
      };
      if (expire !== undefined) pos.expireAfterMs = expire;
      pos.group = false;
      writer = await PositionsWriter.acquire(file);
      const c = new Consumer<T>(file, name, pos, lock, writer);
      // Registered (or seen) at once: retention must keep what a consumer that has not committed yet still needs.
      await c.#write(pos);
      if (positions.isLegacy(name)) await removeLegacyPosition(file, name);
      return c;
    } catch (err) {
      await writer?.release().catch(() => {});
      await lock.release().catch(() => {});
      throw err;
    }
  }

  /**
   * Moves consumer `name` of the journal at `path` so that `to` is where it reads next (see
   * SeekTarget). Fails with CONSUMER_BUSY while it is open in a running process, unless `force`:
   * that process's later commits are then refused with CONSUMER_RESET.
   */
  static reset(file: string, name: string, to: SeekTarget, opts?: ResetOptions): Promise<ResetResult> {
    return resetConsumer(file, name, to, opts);
  }

  /** Deletes consumer `name`: it no longer holds records back from compaction. CONSUMER_BUSY while it runs, unless `force`. */
  static delete(file: string, name: string, opts?: ResetOptions): Promise<DeleteResult> {
    return deleteConsumer(file, name, opts);
  }

  /** The last committed seq that is durable (0 before the first commit). */
  get committedSeq(): number {
    return this.#pos.seq;
  }

  /**
   * The records after the committed position: replayed, then followed live (see follow()). Before
   * starting, checks that the journal still holds the committed record, and fails with DIVERGED if
   * not. Delivery is at-least-once: after a crash, records handed out but not committed come again.
   *
   * `fromSeq` starts earlier than the committed position, for a consumer whose output lost what it
   * had processed (it cannot start later: that would skip records without committing them).
   */
  records(opts?: FollowOptions & { data?: 'value' | 'bigint' }): AsyncIterableIterator<JournalRecord<T>> & AsyncDisposable;
  /** With `data: 'text'`, each record's data is its JSON text, a string. */
  records(opts: FollowOptions & { data: 'text' }): AsyncIterableIterator<JournalRecord<string>> & AsyncDisposable;
  /** With a data mode known only at run time, each record's data is a T, or its JSON text with `data: 'text'`. */
  records(opts?: FollowOptions): AsyncIterableIterator<JournalRecord<T | string>> & AsyncDisposable;
  records(opts: FollowOptions = {}): AsyncIterableIterator<JournalRecord> & AsyncDisposable {
    let from = opts.fromSeq ?? this.#requested + 1;
    if (!Number.isSafeInteger(from) || from < 1 || from > this.#requested + 1) {
      throw new RangeError(`fromSeq must be a positive integer no higher than the committed seq + 1 (${this.#requested + 1})`);
    }
    let follower: Follower | null = null;
    let generation = this.#generation;
    let ended = false;
    const self = this;
    const end = async () => {
      ended = true;
      self.#iterations.delete(end);
      await follower?.return();
    };
    this.#iterations.add(end);
    const it = {
      async next(): Promise<IteratorResult<JournalRecord>> {
        if (ended) return { value: undefined, done: true };
        const refused = self.#refusal();
        if (refused !== null) {
          await end();
          throw refused;
        }
        if (generation !== self.#generation) {
          // A seek moved the position: start again from there.
          generation = self.#generation;
          from = self.#requested + 1;
          await follower?.return();
          follower = null;
        }
        if (follower === null) {
          await self.#checkDivergence();
          follower = follow(self.path, { ...opts, fromSeq: from });
        }
        const r = await follower.next();
        if (ended) return { value: undefined, done: true };
        // A seek while the record was read: it belongs to the old position.
        if (generation !== self.#generation) return it.next();
        if (r.done) {
          self.#iterations.delete(end);
          return r;
        }
        self.#journal = follower.header!.id;
        self.#uncommitted.set(r.value.seq, { rec: r.value, mode: opts.data ?? 'value' });
        self.#lastYielded = r.value.seq;
        return r;
      },
      async return(): Promise<IteratorResult<JournalRecord>> {
        await end();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return it;
      },
      async [Symbol.asyncDispose]() {
        await end();
      },
    };
    return it;
  }

  /**
   * Records that everything up to `seq` is processed. Resolves once that is durable. Commits made
   * while an earlier one is being written share its next write (only the latest position counts),
   * so there is no need to await each: a commit that fails also fails records() and close().
   * `seq` must be a record this consumer handed out; committing below the position is a no-op.
   */
  commit(seq: number): Promise<void> {
    const p = this.#commit(seq);
    // Left unawaited, a failure is not lost: the next record and close() reject with it.
    p.catch(() => {});
    return p;
  }

  #commit(seq: number): Promise<void> {
    const refused = this.#refusal();
    if (refused !== null) return Promise.reject(refused);
    if (seq <= this.#requested) return this.#lastWrite;
    const out = this.#uncommitted.get(seq);
    if (out === undefined || seq > this.#lastYielded) return Promise.reject(new RangeError(`seq ${seq} was not handed out by this consumer`));
    for (const s of this.#uncommitted.keys()) if (s <= seq) this.#uncommitted.delete(s);
    this.#requested = seq;
    return this.#write({ ...this.#pos, seq, journal: this.#journal, fingerprint: fingerprint(out.rec, out.mode), updated: Date.now() });
  }

  /**
   * Moves this consumer's position so that `to` is where it reads next, durably, and returns that
   * seq; a records() iteration running meanwhile goes on from there. Commits at or below the new
   * position are no-ops; above it, of records handed out before the seek, RangeErrors.
   */
  async seek(to: SeekTarget): Promise<number> {
    checkTarget(to);
    const refused = this.#refusal();
    if (refused !== null) throw refused;
    const { next, journal } = await nextSeqFor(this.path, to);
    this.#generation++;
    this.#uncommitted.clear();
    this.#lastYielded = next - 1;
    this.#requested = next - 1;
    // A new epoch: a commit still being written for the old position cannot outrank this one.
    await this.#write({ ...this.#pos, epoch: this.#pos.epoch + 1, seq: next - 1, journal, fingerprint: null, updated: Date.now() });
    return next;
  }

  /**
   * Ends any records() iteration, waits for the commits being written, and releases the consumer.
   * Safe to call twice. Rejects with the failure of a commit nobody awaited, if one failed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    for (const end of [...this.#iterations]) await end().catch(() => {});
    await this.#lastWrite.catch(() => {});
    try {
      await this.#writer.release();
    } finally {
      await this.#lock.release();
    }
    if (this.#failed !== null) throw this.#failed;
  }

  #refusal(): unknown {
    if (this.#failed !== null) return this.#failed;
    if (this.#closing !== null) return new JournalError(ErrorCode.CLOSED, `${this.path}: consumer '${this.name}' is closed`, { path: this.path });
    return null;
  }

  /** Writes a position line; the position in memory follows once it is durable. */
  #write(pos: StoredPosition): Promise<void> {
    this.#lastWriteAt = Date.now();
    const { lastActive: _, ...entry } = pos;
    const w = this.#writer.write(entry, () => this.#lock.fenced()).then(() => {
      if (pos.epoch > this.#pos.epoch || (pos.epoch === this.#pos.epoch && pos.seq >= this.#pos.seq)) this.#pos = pos;
    }, (err) => {
      this.#failed ??= err;
      throw err;
    });
    this.#lastWrite = w;
    return w;
  }

  async #checkDivergence(): Promise<void> {
    const pos = this.#pos;
    if (pos.seq === 0) return;
    const { header: { id }, lastSeq } = await journalInfo(this.path);
    const diverged = (why: string) => new JournalError(ErrorCode.DIVERGED,
      `${this.path}: consumer '${this.name}' committed seq ${pos.seq}, but ${why}; rebuild what it produced, or reset it`, { path: this.path });
    if (pos.journal !== null && pos.journal !== id) throw diverged(`the journal is another one (id ${id}, the position names ${pos.journal})`);
    if (pos.seq > lastSeq) throw diverged(`the journal ends at seq ${lastSeq}`);
    if (pos.fingerprint === null) return;
    const it = readJournal(this.path, { fromSeq: pos.seq });
    try {
      const first = await it.next();
      if (!first.done && first.value.seq === pos.seq && fingerprint(first.value) !== pos.fingerprint) {
        throw diverged(`the record at seq ${pos.seq} is not the one it committed (fingerprint ${fingerprint(first.value)}, committed ${pos.fingerprint})`);
      }
    } finally {
      await it.return();
    }
  }
}
