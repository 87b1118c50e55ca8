/**
 * Consumer groups: processes that open one consumer name as a group divide its records, claiming
 * ranges of them in the group's work log (docs/design.md, "Groups").
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { compact } from '../compact/compact.js';
import { ErrorCode, JournalError } from '../errors.js';
import { makeDirDurably } from '../fs/durable.js';
import type { StoredPosition } from '../positions/entry.js';
import { checkConsumerName, groupLog, groupsDir } from '../positions/layout.js';
import { LiveLock } from '../positions/liveness.js';
import { removeLegacyPosition } from '../positions/legacy.js';
import { readPositions } from '../positions/store.js';
import { follow } from '../read/follow.js';
import { journalInfo } from '../read/info.js';
import { readJournal, type JournalRecord } from '../read/reader.js';
import { Journal } from '../write/journal.js';
import { GroupState, parseWorkLine, type Lease, type WorkLine } from './group-state.js';
import { PositionsWriter } from './positions-writer.js';

export interface GroupOptions {
  /**
   * How long a member's claim on records lasts. A running member renews its claims every third of
   * it; the claims of a member that died are taken over by the others once it runs out. It must be
   * longer than a member can go without a turn of its event loop.
   * @default 30000
   */
  leaseMs?: number;
  /** How many records a member claims at a time. @default 100 */
  claimSize?: number;
  /** Hand out only records a power loss cannot take back (see follow). @default true */
  durableOnly?: boolean;
  /** How often to look for claims that ran out and, as a fallback for missed watch events, for new records. @default 200 */
  pollMs?: number;
  /** As for Consumer: a group none of whose members has been seen for this long is expired. @default the stored setting, or null */
  expireAfterMs?: number | null;
}

export interface GroupRecordsOptions {
  /** Ends the iteration (without an error). */
  signal?: AbortSignal;
}

/** The work log is rewritten down to one `state` line once this many lines were added after the last. */
const SNAPSHOT_EVERY = 2_000;

/** A claim of this member: how many of its records are still to be acknowledged, and those acknowledged since the last line said so. */
interface Claim {
  /** The epoch of the state the claim was made in: the lines about it name it. */
  epoch: number;
  from: number;
  to: number;
  unacked: number;
  acked: number[];
}

/** `T` is the type of the records' data, as the caller says; nothing checks it. */
export class ConsumerGroup<T = unknown> implements AsyncDisposable {
  readonly path: string;
  readonly name: string;
  /** This member's id in the work log: the process id and a random part. */
  readonly member: string;
  readonly #lock: LiveLock;
  readonly #writer: PositionsWriter;
  readonly #log: Journal;
  readonly #logPath: string;
  readonly #leaseMs: number;
  readonly #claimSize: number;
  readonly #durableOnly: boolean;
  readonly #pollMs: number;
  readonly #state = new GroupState();
  /** The seq of the last work-log line applied to the state. */
  #applied = 0;
  /** This member's appends to the work log, one after another: each decided on the state its predecessor left. */
  #appending: Promise<unknown> = Promise.resolve();
  /** The position as last written to the positions log. */
  #pos: StoredPosition;
  /** This member's claims not finished yet, by first seq; and the claim of each record handed out. */
  readonly #claims = new Map<number, Claim>();
  readonly #handedOut = new Map<number, number>();
  /** Records of this member's claims not handed out yet (they outlive an iteration that ends early). */
  #buffer: JournalRecord<T>[] = [];
  #at = 0;
  /** Records read ahead from the journal, at or above the lowest seq nobody claimed: what the next claim takes. */
  #ahead: JournalRecord<T>[] = [];
  /** The last seq the reader of new records has reached. */
  #feedSeq = 0;
  /** Set when the reader of new records must start again from the state's next seq (an epoch line, or it fell far behind). */
  #feedRestart: AbortController | null = null;
  readonly #stop = new AbortController();
  #pump: Promise<void> = Promise.resolve();
  #feed: Promise<void> = Promise.resolve();
  readonly #wakers = new Set<() => void>();
  #iterating = false;
  /** The step of records() under way, which close() lets finish before it gives the claims back. */
  #step: Promise<unknown> = Promise.resolve();
  #renewTimer: NodeJS.Timeout | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #lastWriteAt = Date.now();
  #failed: unknown = null;
  #closing: Promise<void> | null = null;

  private constructor(file: string, name: string, o: { lock: LiveLock; writer: PositionsWriter; log: Journal; pos: StoredPosition; leaseMs: number; claimSize: number; durableOnly: boolean; pollMs: number }) {
    this.path = file;
    this.name = name;
    this.member = `${process.pid}-${randomBytes(4).toString('hex')}`;
    this.#lock = o.lock;
    this.#writer = o.writer;
    this.#log = o.log;
    this.#logPath = groupLog(file, name);
    this.#pos = o.pos;
    this.#leaseMs = o.leaseMs;
    this.#claimSize = o.claimSize;
    this.#durableOnly = o.durableOnly;
    this.#pollMs = o.pollMs;
  }

  /**
   * Joins group `name` of the journal at `path` (creating it at seq 0, or taking over the position
   * of a consumer of that name). Any number of processes may join; the name cannot be open as a
   * single Consumer meanwhile (CONSUMER_BUSY either way). The journal must exist (NOT_FOUND).
   */
  static async open<T = unknown>(file: string, name: string, opts: GroupOptions = {}): Promise<ConsumerGroup<T>> {
    if (typeof file !== 'string' || file === '') throw new TypeError('path must be a non-empty string');
    checkConsumerName(name);
    const leaseMs = opts.leaseMs ?? 30_000;
    const claimSize = opts.claimSize ?? 100;
    const pollMs = opts.pollMs ?? 200;
    if (!Number.isSafeInteger(leaseMs) || leaseMs < 10) throw new RangeError('leaseMs must be an integer of at least 10 (ms)');
    if (!Number.isSafeInteger(claimSize) || claimSize < 1) throw new RangeError('claimSize must be a positive integer');
    if (!(pollMs > 0)) throw new RangeError('pollMs must be a positive number');
    const expire = opts.expireAfterMs;
    if (expire !== undefined && expire !== null && !(Number.isSafeInteger(expire) && expire > 0)) {
      throw new RangeError('expireAfterMs must be a positive integer (ms) or null');
    }
    const { header } = await journalInfo(file);
    const lock = await LiveLock.hold(file, name, true);
    let writer: PositionsWriter | null = null;
    let log: Journal | null = null;
    let g: ConsumerGroup<T> | null = null;
    try {
      const positions = await readPositions(file);
      const pos: StoredPosition = positions.get(name) ?? {
        name, seq: 0, epoch: positions.epoch(name) + 1, journal: null, fingerprint: null, updated: 0, lastActive: 0, expireAfterMs: null, group: true,
      };
      if (expire !== undefined) pos.expireAfterMs = expire;
      writer = await PositionsWriter.acquire(file);
      await makeDirDurably(groupsDir(file));
      // Nothing in the work log needs to survive a power loss: the position in the positions log does.
      log = await Journal.open(groupLog(file, name), { durability: 'unsafe-nosync' });
      g = new ConsumerGroup<T>(file, name, {
        lock, writer, log, pos: { ...pos, group: true, journal: header.id, fingerprint: null }, leaseMs, claimSize, durableOnly: opts.durableOnly ?? true, pollMs,
      });
      await g.#start();
      if (positions.isLegacy(name)) await removeLegacyPosition(file, name);
      return g;
    } catch (err) {
      // Once made, the member owns the log, the writer and the lock.
      if (g !== null) await g.close().catch(() => {});
      else {
        await log?.close().catch(() => {});
        await writer?.release().catch(() => {});
        await lock.release().catch(() => {});
      }
      throw err;
    }
  }

  /** The group's position as this member knows it: every record up to it is acknowledged. */
  get committedSeq(): number {
    return Math.max(this.#state.floor, this.#pos.seq);
  }

  /**
   * The records this member is given: claimed a range at a time, the ranges of members that died
   * among them. At-least-once: a record whose member died before acknowledging it is handed to
   * another. Records come in seq order within a claim; across members and claims, no order is
   * promised. One iteration at a time per member.
   */
  records(opts: GroupRecordsOptions = {}): AsyncIterableIterator<JournalRecord<T>> & AsyncDisposable {
    if (this.#iterating) throw new TypeError('a group member hands out its records to one iteration at a time');
    const closedBefore = this.#closing !== null;
    this.#iterating = !closedBefore;
    const signal = opts.signal;
    let ended = false;
    const end = () => {
      if (!ended) this.#iterating = false;
      ended = true;
    };
    const step = async (): Promise<IteratorResult<JournalRecord<T>>> => {
      for (;;) {
        if (this.#failed !== null) {
          end();
          throw this.#failed;
        }
        if (ended || signal?.aborted || this.#closing !== null) {
          end();
          if (closedBefore) throw new JournalError(ErrorCode.CLOSED, `${this.path}: group '${this.name}' member is closed`, { path: this.path });
          return { value: undefined, done: true };
        }
        if (this.#at < this.#buffer.length) {
          const rec = this.#buffer[this.#at]!;
          this.#buffer[this.#at++] = undefined as never;
          this.#handedOut.set(rec.seq, this.#claimOf(rec.seq));
          return { value: rec, done: false };
        }
        if (!(await this.#claim())) await this.#wait(signal);
      }
    };
    const it = {
      next: (): Promise<IteratorResult<JournalRecord<T>>> => {
        const p = step();
        this.#step = p.catch(() => {});
        return p;
      },
      return: async (): Promise<IteratorResult<JournalRecord<T>>> => {
        end();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return it;
      },
      [Symbol.asyncDispose]: async () => {
        end();
      },
    };
    return it;
  }

  /**
   * Acknowledges record `seq`, handed out to this member: it is processed. A claim whose records are
   * all acknowledged is finished in the work log, and the group's position moves past it once every
   * claim below it is finished too. A seq not handed out (or acknowledged already) is a RangeError.
   */
  ack(seq: number): void {
    const from = this.#handedOut.get(seq);
    if (from === undefined) throw new RangeError(`seq ${seq} is not a record handed out to this member and not acknowledged yet`);
    this.#handedOut.delete(seq);
    const claim = this.#claims.get(from)!;
    claim.acked.push(seq);
    if (--claim.unacked === 0) this.#finish(claim);
  }

  /**
   * Stops handing out records, gives this member's unfinished claims back at once (the others take
   * their records not acknowledged yet), writes the group's position and leaves the group. Safe to
   * call twice.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #start(): Promise<void> {
    this.#pump = this.#runPump();
    // The work log belongs to the position's epoch: after a reset (or a lost tail) it starts again from the position.
    const want = this.#pos;
    for (;;) {
      await this.#caughtUp();
      this.#failIfFailed();
      const s = this.#state;
      if (s.epoch === want.epoch && s.floor >= want.seq) break;
      const base = this.#applied;
      if (await this.#serial(() => this.#casAppend({ op: 'epoch', epoch: want.epoch, floor: want.seq }, base))) break;
    }
    this.#feed = this.#runFeed();
    await this.#writePosition(true);
    this.#renewTimer = setInterval(() => this.#renew(), Math.max(1, Math.floor(this.#leaseMs / 3)));
    this.#renewTimer.unref();
    const expire = this.#pos.expireAfterMs;
    if (expire !== null) {
      const half = Math.max(1, Math.floor(expire / 2));
      this.#heartbeat = setInterval(() => {
        if (Date.now() - this.#lastWriteAt >= half) void this.#writePosition(true).catch(() => {});
      }, half);
      this.#heartbeat.unref();
    }
  }

  /** Applies the work log's lines as any member appends them, for as long as the member is open. */
  async #runPump(): Promise<void> {
    try {
      // A member behind a compaction of the log starts again from its `state` line.
      for await (const rec of follow(this.#logPath, { durableOnly: false, onPositionGone: 'oldest', signal: this.#stop.signal, pollMs: this.#pollMs })) {
        if (rec.seq <= this.#applied) continue;
        this.#apply(rec.seq, parseWorkLine(rec.data, this.#logPath, rec.seq));
      }
    } catch (err) {
      this.#fail(err);
    }
  }

  /**
   * Reads the journal's new records ahead, from the lowest seq nobody claimed: the next claim of
   * this member takes them. Records another member claims meanwhile are dropped; a reader that
   * fell far behind, or an epoch line that moved the group back, starts it again from there.
   */
  async #runFeed(): Promise<void> {
    try {
      while (!this.#stop.signal.aborted) {
        const restart = (this.#feedRestart = new AbortController());
        const stop = () => restart.abort();
        this.#stop.signal.addEventListener('abort', stop, { once: true });
        this.#ahead = [];
        this.#feedSeq = this.#state.next - 1;
        try {
          const signal = restart.signal;
          for await (const rec of follow<T>(this.path, { fromSeq: this.#state.next, durableOnly: this.#durableOnly, onPositionGone: 'oldest', signal, pollMs: this.#pollMs })) {
            this.#feedSeq = rec.seq;
            this.#dropClaimed();
            if (rec.seq >= this.#state.next) this.#ahead.push(rec);
            this.#wake();
            while (this.#ahead.length >= 4 * this.#claimSize && !signal.aborted) {
              await this.#wait();
              this.#dropClaimed();
            }
          }
        } finally {
          this.#stop.signal.removeEventListener('abort', stop);
        }
      }
    } catch (err) {
      this.#fail(err);
    }
  }

  #dropClaimed(): void {
    const next = this.#state.next;
    let i = 0;
    while (i < this.#ahead.length && this.#ahead[i]!.seq < next) i++;
    if (i > 0) this.#ahead.splice(0, i);
  }

  #apply(seq: number, line: WorkLine): void {
    const before = this.#state.floor;
    const next = this.#state.next;
    this.#state.apply(line);
    this.#applied = seq;
    // The member whose line moved the floor writes the group's position.
    if (this.#state.floor > before && 'm' in line && line.m === this.member) void this.#writePosition(false).catch(() => {});
    // A reader of new records behind the group by far, or ahead of it after an epoch line, starts again.
    if (this.#state.next < next || this.#state.next > this.#feedSeq + 16 * this.#claimSize) this.#feedRestart?.abort();
    this.#wake();
  }

  /** Resolves once every line this member knows to be in the work log is applied. */
  async #caughtUp(): Promise<void> {
    while (this.#applied < this.#log.lastSeq && this.#failed === null && !this.#stop.signal.aborted) await this.#wait();
  }

  /**
   * Runs `append` after this member's appends before it. Then a turn of the event loop passes: a
   * writer without fsyncs keeps the writers' lock until that turn, and records handed out from a
   * claim go to the caller without one, so CPU-bound work on them would keep the other members
   * from appending for as long as it runs.
   */
  #serial<R>(append: () => Promise<R>): Promise<R> {
    const run = this.#appending.then(append).then(async (v) => {
      await nextTurn();
      return v;
    });
    this.#appending = run.catch(() => {});
    return run;
  }

  /**
   * Appends `line` right after line `base`, the last line of the state it was decided on, and
   * applies it, if no other line came in between; false if one did (the caller decides again once
   * the state has caught up).
   */
  async #casAppend(line: WorkLine, base: number): Promise<boolean> {
    const seq = base + 1;
    try {
      await this.#log.appendRecords([{ seq, ts: Date.now(), data: line }]);
    } catch (err) {
      if (err instanceof JournalError && err.code === ErrorCode.SEQ_CONFLICT) return false;
      throw err;
    }
    // Nothing came between: the line applies to exactly the state it was decided on.
    if (this.#applied < seq) this.#apply(seq, line);
    return true;
  }

  /** Appends a line that applies wherever it lands (renew, release, done): next to the state if it can, else at the end. */
  #append(line: WorkLine): Promise<void> {
    return this.#serial(async () => {
      if (!(await this.#casAppend(line, this.#applied))) await this.#log.append(line);
    });
  }

  /** Claims the next records this member should process, into its buffer: a range whose lease ran out first, else new records. False if there are none now. */
  async #claim(): Promise<boolean> {
    for (;;) {
      if (this.#lock.fenced()) throw this.#fencedError();
      this.#failIfFailed();
      if (this.#closing !== null) return false;
      // This member's own lines first (a done line of its last claim, say): a claim decided before them would lose its swap to them.
      await this.#appending;
      // Records the reader has in hand reach #ahead within a turn of the event loop: claim them together.
      if (this.#ahead.length < this.#claimSize) await nextTurn();
      // From here to the claim's line, one decision on one state: line `base` is its last.
      const base = this.#applied;
      const epoch = this.#state.epoch;
      const now = Date.now();
      const lease = this.#state.reclaimable(now, this.member);
      let range: { from: number; to: number } | null = lease ?? null;
      let records: JournalRecord<T>[] = [];
      if (range === null) {
        this.#dropClaimed();
        records = this.#ahead.slice(0, this.#claimSize);
        if (records.length === 0) return false;
        range = { from: this.#state.next, to: records.at(-1)!.seq };
      }
      const claimed = await this.#serial(() => this.#casAppend({ op: 'claim', m: this.member, from: range.from, to: range.to, until: now + this.#leaseMs }, base));
      if (!claimed) {
        await this.#caughtUp();
        continue;
      }
      // The claim, applied, moved the state's next seq past the records it took from those read ahead.
      if (lease !== undefined) records = await this.#read(lease);
      else this.#dropClaimed();
      const claim: Claim = { epoch, from: range.from, to: range.to, unacked: records.length, acked: [] };
      this.#claims.set(range.from, claim);
      this.#buffer = records;
      this.#at = 0;
      if (records.length === 0) this.#finish(claim);
      if (this.#state.sinceSnapshot >= SNAPSHOT_EVERY) await this.#snapshot();
      return true;
    }
  }

  /** The records of a range taken over from another member, but those it acknowledged. */
  async #read(lease: Lease): Promise<JournalRecord<T>[]> {
    const acked = new Set(lease.acked);
    const out: JournalRecord<T>[] = [];
    // Its records were read through a reader that waits for durability, by the member that claimed it.
    for await (const rec of readJournal<T>(this.path, { fromSeq: lease.from })) {
      if (rec.seq > lease.to) break;
      if (!acked.has(rec.seq)) out.push(rec);
    }
    return out;
  }

  /** The first seq of this member's claim that holds `seq`. */
  #claimOf(seq: number): number {
    for (const c of this.#claims.values()) if (seq >= c.from && seq <= c.to) return c.from;
    throw new Error(`internal: seq ${seq} handed out outside the member's claims`);
  }

  #finish(claim: Claim): void {
    this.#claims.delete(claim.from);
    this.#background(this.#append({ op: 'done', m: this.member, e: claim.epoch, from: claim.from }));
  }

  /** This member's claims in the epoch it knows: claims of an earlier one went with the reset that ended it. */
  #currentClaims(): Claim[] {
    return [...this.#claims.values()].filter((c) => c.epoch === this.#state.epoch);
  }

  /** The seqs acknowledged since the last line said so, for the claims given. */
  #takeAcked(claims: Claim[]): number[] {
    const out: number[] = [];
    for (const c of claims) out.push(...c.acked.splice(0));
    return out;
  }

  /** Extends this member's claims, so that the others do not take them while it works, and says what it acknowledged so far. */
  #renew(): void {
    const claims = this.#currentClaims();
    if (claims.length === 0 || this.#failed !== null || this.#closing !== null) return;
    this.#background(this.#append({
      op: 'renew', m: this.member, e: claims[0]!.epoch, froms: claims.map((c) => c.from), until: Date.now() + this.#leaseMs, acked: this.#takeAcked(claims),
    }));
  }

  /** Writes the whole state as one line and compacts the work log down to it (another member doing so is fine). */
  async #snapshot(): Promise<void> {
    if (!(await this.#serial(() => this.#casAppend(this.#state.snapshot(), this.#applied)))) return;
    await compact(this.#logPath, { beforeSeq: this.#applied, retainForConsumers: false }).catch((err) => {
      if (!(err instanceof JournalError && err.code === ErrorCode.COMPACTING)) throw err;
    });
  }

  /** Writes the group's position (the floor), durably; `seen` writes it even when it has not moved. */
  async #writePosition(seen: boolean): Promise<void> {
    const seq = Math.max(this.#state.floor, this.#pos.seq);
    if (!seen && seq <= this.#pos.seq) return;
    const pos: StoredPosition = { ...this.#pos, seq, updated: seq > this.#pos.seq ? Date.now() : this.#pos.updated };
    this.#lastWriteAt = Date.now();
    const { lastActive: _, ...entry } = pos;
    try {
      await this.#writer.write(entry, () => this.#lock.fenced());
    } catch (err) {
      this.#fail(err);
      throw err;
    }
    if (pos.seq >= this.#pos.seq) this.#pos = pos;
  }

  /** Waits until the work log or the records read ahead change, a lease runs out, pollMs pass, or the member stops. */
  #wait(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const expiry = this.#state.nextExpiry(this.member) - Date.now();
      const timer = setTimeout(() => done(), Math.max(1, Math.min(this.#pollMs, expiry + 1)));
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.#wakers.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #wake(): void {
    for (const w of [...this.#wakers]) w();
  }

  /** Runs work nobody awaits; its failure fails the member (the next record, and close(), reject with it). */
  #background(p: Promise<unknown>): void {
    p.catch((err) => this.#fail(err));
  }

  #fail(err: unknown): void {
    this.#failed ??= err;
    this.#wake();
  }

  #failIfFailed(): void {
    if (this.#failed !== null) throw this.#failed;
  }

  #fencedError(): JournalError {
    return new JournalError(ErrorCode.CONSUMER_RESET,
      `${this.path}: group '${this.name}' was reset or deleted by another process while this member was in it: open it again`, { path: this.path });
  }

  async #close(): Promise<void> {
    if (this.#renewTimer !== null) clearInterval(this.#renewTimer);
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    // A step under way sees #closing at its next turn; a claim it made is given back below.
    this.#wake();
    await this.#step;
    let err: unknown = this.#failed;
    if (err === null && !this.#lock.fenced()) {
      try {
        // Records not acknowledged go to the others now, not when the lease runs out.
        const claims = this.#currentClaims();
        if (claims.length > 0) await this.#append({ op: 'release', m: this.member, e: claims[0]!.epoch, froms: claims.map((c) => c.from), acked: this.#takeAcked(claims) });
        await this.#appending;
        await this.#writePosition(false);
      } catch (e) {
        err = e;
      }
    }
    this.#stop.abort();
    this.#wake();
    await this.#appending;
    await Promise.all([this.#pump, this.#feed]);
    await this.#log.close().catch((e) => (err ??= e));
    await this.#writer.release().catch((e) => (err ??= e));
    await this.#lock.release().catch((e) => (err ??= e));
    if (err !== null) throw err;
  }
}
