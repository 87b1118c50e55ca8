/**
 * ship(): a named consumer of the journal that publishes each record to a JetStream stream, in
 * order and once each, and commits its position only once JetStream acknowledged every record up
 * to it (docs/design.md, "Shipping to NATS").
 */
import path from 'node:path';
import { Consumer, ErrorCode, journalInfo, JournalError, readJournal } from 'jsonl-journal';
import { connect, natsError, serverList, type Connection, type ConnectionEvent } from './client.js';
import { Publisher, type PublishError } from './publisher.js';
import { recordAt, shippingSubject, streamInfo, type RetryOptions, type StreamRecord } from './stream.js';
import { setPublishHeaders, setRecordHeaders } from './wire.js';

export interface ShipOptions {
  /** The NATS server URL (`nats://127.0.0.1:4222`, credentials may go in it), or several of one cluster, tried in order. */
  server: string | readonly string[];
  /** The JetStream stream to publish to. It must exist, and should hold this journal only. */
  stream: string;
  /** The subject to publish on. @default the stream's subject, when it has exactly one and it has no wildcards */
  subject?: string;
  /** The name of the journal consumer that keeps the shipper's position. @default `ship-<stream>` */
  consumer?: string;
  /**
   * Where a first run starts: the first record appended at or after this time (ms since the epoch,
   * or a Date). Only when the consumer has no position and the stream is empty; after that the
   * position decides. @default the oldest record
   */
  fromTs?: number | Date;
  /** Publishes awaiting JetStream's acknowledgement at most. @default 256 */
  maxInFlight?: number;
  /** How long a publish waits for its acknowledgement before the shipper resyncs with the stream. @default 5000 */
  ackTimeoutMs?: number;
  /**
   * Fail at once (NATS_UNREACHABLE) when no server answers at start, instead of retrying with
   * backoff (250 ms doubling to 5 s) until one does or the signal aborts. @default false
   */
  failFast?: boolean;
  /** Ship only records a power loss cannot take back (see follow()). @default true */
  durableOnly?: boolean;
  /** Poll interval of the journal follower, in ms. @default 200 */
  pollMs?: number;
  /** Aborting it closes the shipper (or makes ship() reject with ABORTED while it is starting). */
  signal?: AbortSignal;
  /** Told about retries, lost and regained connections, resyncs, and records compaction removed before they were shipped. */
  onEvent?: (event: ShipEvent) => void;
}

export type ShipEvent =
  | ConnectionEvent
  /** The shipper read the stream's end again after a failed publish, and goes on after journalSeq. */
  | { type: 'resync'; reason: string; streamSeq: number; journalSeq: number | null }
  /** Seqs fromSeq..toSeq are not in the journal (compaction removed them) and were never shipped. */
  | { type: 'skipped'; fromSeq: number; toSeq: number };

export interface ShipStats {
  /** Records JetStream acknowledged in this run. */
  published: number;
  /** Seqs reported as skipped (removed from the journal before they were shipped). */
  skipped: number;
  /** Times the shipper re-read the stream's end after a failed publish. */
  resyncs: number;
}

interface Resolved {
  servers: string[];
  stream: string;
  subject: string | undefined;
  consumer: string;
  fromTs: number | undefined;
  maxInFlight: number;
  ackTimeoutMs: number;
  failFast: boolean;
  durableOnly: boolean;
  pollMs: number;
  signal: AbortSignal | undefined;
  onEvent: ((e: ShipEvent) => void) | undefined;
}

/**
 * Least time between two commits of the position, unless someone waits for it (waitFor(), close()).
 * A commit is a write-replace with two fsyncs, and each of its file operations wakes a thread of
 * libuv's pool; committing after every burst of acknowledgements cost the shipper about a tenth of
 * its time when it shares the cores with the server, for a position that decides where to go on
 * only when the stream's newest message is gone.
 */
const COMMIT_INTERVAL_MS = 100;

/** Names a stream may have: no whitespace, `.`, `*`, `>` or path separators. */
const STREAM_NAME = /^[^\s.*>/\\]{1,255}$/;

function resolve(o: ShipOptions): Resolved {
  if (o === null || typeof o !== 'object') throw new TypeError('ship needs options: { server, stream }');
  if (typeof o.stream !== 'string' || !STREAM_NAME.test(o.stream)) {
    throw new TypeError('stream must be a JetStream stream name (no whitespace, ".", "*", ">" or slashes)');
  }
  if (o.subject !== undefined && typeof o.subject !== 'string') throw new TypeError('subject must be a string');
  const maxInFlight = o.maxInFlight ?? 256;
  if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) throw new RangeError('maxInFlight must be a positive integer');
  const ackTimeoutMs = o.ackTimeoutMs ?? 5000;
  if (typeof ackTimeoutMs !== 'number' || !(ackTimeoutMs > 0)) throw new RangeError('ackTimeoutMs must be a positive number');
  if (o.onEvent !== undefined && typeof o.onEvent !== 'function') throw new TypeError('onEvent must be a function');
  const onEvent = o.onEvent;
  const fromTs = o.fromTs instanceof Date ? o.fromTs.getTime() : o.fromTs;
  if (fromTs !== undefined && (typeof fromTs !== 'number' || !Number.isFinite(fromTs))) throw new RangeError('fromTs must be a Date or a number of ms since the epoch');
  return {
    servers: serverList(o.server),
    stream: o.stream,
    subject: o.subject,
    consumer: o.consumer ?? `ship-${o.stream}`,
    fromTs,
    maxInFlight,
    ackTimeoutMs,
    failFast: o.failFast ?? false,
    durableOnly: o.durableOnly ?? true,
    pollMs: o.pollMs ?? 200,
    signal: o.signal,
    // A throwing callback must not stop the shipping it reports on.
    onEvent: onEvent === undefined ? undefined : (e) => {
      try {
        onEvent(e);
      } catch {
        // Ignored: see above.
      }
    },
  };
}

/** One record handed to JetStream, in seq order. */
interface Entry {
  seq: number;
  ts: number;
  json: string;
  acked: boolean;
  /** The resync epoch it was last published in: a record is published at most once per epoch. */
  epoch: number;
}

/**
 * Starts shipping the journal at `file` to a JetStream stream and resolves once it runs: connected
 * (retrying while no server answers, unless failFast), the stream checked, and its end compared
 * with the journal. Rejects with NATS_CLIENT_MISSING, NATS_UNREACHABLE, STREAM_NOT_FOUND,
 * STREAM_MISCONFIGURED, DIVERGED, NATS_ERROR, NOT_FOUND (no journal), ABORTED.
 */
export async function ship(file: string, options: ShipOptions): Promise<Shipper> {
  if (typeof file !== 'string' || file === '') throw new TypeError('path must be a non-empty string');
  const o = resolve(options);
  const { header } = await journalInfo(file);
  const conn = await connect({ servers: o.servers, failFast: o.failFast, name: `jsonl-journal ship ${path.basename(file)}`, signal: o.signal, onEvent: o.onEvent });
  let consumer: Consumer | null = null;
  try {
    consumer = await Consumer.open(file, o.consumer);
    const shipper = new Shipper(file, o, conn, consumer, { id: header.id, created: header.created });
    await shipper._start();
    return shipper;
  } catch (err) {
    await consumer?.close().catch(() => {});
    await conn.nc.close().catch(() => {});
    throw err;
  }
}

export class Shipper implements AsyncDisposable {
  readonly path: string;
  readonly stream: string;
  readonly journalId: string;
  readonly #opts: Resolved;
  readonly #conn: Connection;
  readonly #consumer: Consumer;
  readonly #journal: { id: string; created: number };
  readonly #retry: RetryOptions;
  readonly #ac = new AbortController();
  readonly #publisher: Publisher<Entry>;
  #subject = '';

  /** Records handed to JetStream; those before #head are acknowledged, those from #next on are not sent yet. */
  #queue: Entry[] = [];
  #head = 0;
  #next = 0;
  /** Every record up to this seq is in the stream. */
  #ackedSeq = 0;
  /** Records up to this seq were in the stream when the shipper started: they are not published again. */
  #inStream = 0;
  /** The stream sequence the next publish expects the stream to end at. */
  #expect = 0;
  /** Bumped by each resync: acknowledgements and failures of earlier publishes are then ignored. */
  #epoch = 0;
  #outstanding = 0;
  #settled: Array<() => void> = [];
  #resync: Promise<void> | null = null;
  #committing = false;
  #lastCommit = -Infinity;
  /** Ends the commit loop's pause between two commits. */
  #commitWake: (() => void) | null = null;
  #sendScheduled = false;
  #space: (() => void) | null = null;
  #waiters: Array<{ seq: number; resolve: () => void; reject: (e: unknown) => void }> = [];

  #failed: unknown = null;
  #closing: Promise<void> | null = null;
  #reading: Promise<void> = Promise.resolve();
  #stats: ShipStats = { published: 0, skipped: 0, resyncs: 0 };
  #markDone!: (err?: unknown) => void;
  /** Settles when the shipper has stopped: resolves after close(), rejects with the error that stopped it. */
  readonly done: Promise<void>;

  /** @internal Use ship(). */
  constructor(file: string, o: Resolved, conn: Connection, consumer: Consumer, journal: { id: string; created: number }) {
    this.path = file;
    this.stream = o.stream;
    this.journalId = journal.id;
    this.#opts = o;
    this.#conn = conn;
    this.#consumer = consumer;
    this.#journal = journal;
    this.#retry = { signal: this.#ac.signal, onEvent: o.onEvent, failFast: false };
    this.#publisher = new Publisher(conn.nats, conn.nc, o.ackTimeoutMs, (e, err) => this.#settle(e, err));
    this.done = new Promise<void>((resolve, reject) => {
      this.#markDone = (err) => (err === undefined ? resolve() : reject(err));
    });
    // Nobody may be watching `done`; the failure is also what close() and waitFor() report.
    this.done.catch(() => {});
  }

  /** The subject records are published on. */
  get subject(): string {
    return this.#subject;
  }

  /** The committed position: every record up to it is in the stream, and the journal's consumer file says so durably. */
  get position(): number {
    return Math.min(this.#consumer.committedSeq, this.#ackedSeq);
  }

  /** Every record up to this seq is acknowledged by JetStream (the position follows it). */
  get ackedSeq(): number {
    return this.#ackedSeq;
  }

  get stats(): Readonly<ShipStats> {
    return { ...this.#stats };
  }

  /** @internal The start sequence of ship(): check the stream, find where to go on, start reading. */
  async _start(): Promise<void> {
    const startRetry: RetryOptions = { signal: this.#opts.signal, onEvent: this.#opts.onEvent, failFast: this.#opts.failFast };
    const info = await streamInfo(this.#conn, this.stream, startRetry);
    this.#subject = shippingSubject(info, this.#opts.subject);
    const end = await this.#streamEnd(info.state.last_seq, startRetry);
    if (end.rec !== null) await this.#compareWithJournal(end.rec);
    const known = end.journalSeq;
    const committed = this.#consumer.committedSeq;
    // The stream's end decides; the committed position only when the stream cannot tell. A stream
    // that ends before the position lost records (or was emptied): they are shipped again.
    let from = known === null ? committed + 1 : Math.min(committed, known) + 1;
    // A first run from a time: the consumer moves there, durably, before anything is published.
    if (this.#opts.fromTs !== undefined && committed === 0 && (known ?? 0) === 0) from = await this.#consumer.seek({ ts: this.#opts.fromTs });
    this.#inStream = known ?? committed;
    this.#ackedSeq = from - 1;
    this.#expect = end.streamSeq;
    if (this.#opts.signal !== undefined) {
      if (this.#opts.signal.aborted) throw new JournalError(ErrorCode.ABORTED, 'aborted');
      this.#opts.signal.addEventListener('abort', () => void this.close().catch(() => {}), { once: true });
    }
    this.#reading = this.#read(from).catch((err) => this.#fail(err));
  }

  /** Resolves once the committed position is at or past `seq`; rejects if the shipper stops first. */
  waitFor(seq: number): Promise<void> {
    if (this.position >= seq) return Promise.resolve();
    if (this.#failed !== null) return Promise.reject(this.#failed);
    if (this.#closing !== null) return Promise.reject(closedError(this.path));
    return new Promise((resolve, reject) => {
      this.#waiters.push({ seq, resolve, reject });
      if (seq <= this.#ackedSeq) this.#commitWake?.();
    });
  }

  /**
   * Stops reading the journal, waits for the acknowledgements of what is in flight (at most
   * ackTimeoutMs), commits the position, and closes the connection. Safe to call twice. Records
   * in flight that were not acknowledged are shipped by the next run.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#ac.abort();
    this.#space?.();
    this.#commitWake?.();
    await this.#reading;
    await this.#resync?.catch(() => {});
    await this.#allSettled();
    let err: unknown = null;
    try {
      await this.#commitNow();
    } catch (e) {
      err = e;
    }
    this.#publisher.close();
    // The consumer's lock goes with it: another shipper may now take the name.
    await this.#consumer.close().catch((e) => (err ??= e));
    await this.#conn.nc.close().catch(() => {});
    for (const w of this.#waiters.splice(0)) w.reject(this.#failed ?? closedError(this.path));
    this.#markDone(this.#failed ?? undefined);
    if (err !== null && this.#failed === null) throw err;
  }

  /** Reads the journal from `from` and hands each record to JetStream, keeping the window bounded. */
  async #read(from: number): Promise<void> {
    let prev = from - 1;
    const records = this.#consumer.records({
      fromSeq: from, signal: this.#ac.signal, onPositionGone: 'oldest', durableOnly: this.#opts.durableOnly, pollMs: this.#opts.pollMs,
      // The data as stored: numbers go out digit for digit, and nothing is parsed to be written again.
      data: 'text',
    });
    for await (const rec of records) {
      if (rec.seq > prev + 1) this.#skipped(Math.max(prev + 1, this.#inStream + 1), rec.seq - 1);
      prev = rec.seq;
      if (rec.seq <= this.#inStream) {
        // Shipped before a crash that came before the commit: the stream has it.
        this.#ackedSeq = rec.seq;
        this.#notify();
        this.#scheduleCommit();
        continue;
      }
      while (this.#queue.length - this.#head >= this.#opts.maxInFlight && !this.#ac.signal.aborted) {
        await new Promise<void>((resolve) => (this.#space = resolve));
        this.#space = null;
      }
      if (this.#ac.signal.aborted) break;
      this.#queue.push({ seq: rec.seq, ts: rec.ts, json: rec.data, acked: false, epoch: -1 });
      this.#scheduleSend();
    }
  }

  /**
   * Sends what was queued once the reading has run for this turn of the event loop: the client
   * writes to its socket on the next microtask after a publish, so publishing each record as it is
   * read would cost one write(2) per record.
   */
  #scheduleSend(): void {
    if (this.#sendScheduled) return;
    this.#sendScheduled = true;
    setImmediate(() => {
      this.#sendScheduled = false;
      if (this.#resync === null && this.#closing === null) this.#sendPending();
    });
  }

  #skipped(fromSeq: number, toSeq: number): void {
    if (toSeq < fromSeq) return;
    this.#stats.skipped += toSeq - fromSeq + 1;
    this.#opts.onEvent?.({ type: 'skipped', fromSeq, toSeq });
  }

  #sendPending(): void {
    while (this.#next < this.#queue.length) this.#publish(this.#queue[this.#next++]!);
  }

  #publish(e: Entry): void {
    e.epoch = this.#epoch;
    const h = setRecordHeaders(this.#conn.nats.transport.headers(), this.#journal, e.seq, e.ts);
    setPublishHeaders(h, this.#journal.id, e.seq, this.#expect++);
    this.#outstanding++;
    this.#publisher.publish(this.#subject, e.json, h, e);
  }

  /** JetStream acknowledged a publish (err null; a duplicate counts: the stream has the record), or it failed. */
  #settle(e: Entry, err: PublishError | null): void {
    if (e.epoch === this.#epoch) {
      if (err === null) {
        e.acked = true;
        this.#stats.published++;
        this.#advance();
      } else {
        this.#publishFailed(e, err);
      }
    }
    if (--this.#outstanding === 0) for (const s of this.#settled.splice(0)) s();
  }

  /** Moves past acknowledged records at the head of the window. */
  #advance(): void {
    const q = this.#queue;
    const before = this.#head;
    while (this.#head < q.length && q[this.#head]!.acked) this.#ackedSeq = q[this.#head++]!.seq;
    if (this.#head === before) return;
    this.#notify();
    if (this.#head > 4096 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#next -= this.#head;
      this.#head = 0;
    }
    this.#space?.();
    this.#scheduleCommit();
  }

  #publishFailed(e: Entry, err: PublishError): void {
    if (this.#failed !== null || this.#closing !== null) return;
    // 10071: "wrong last sequence", the refusal that keeps the stream in order: resync. Other
    // refusals of the request itself (4xx) would refuse the record again.
    if (err.reason === 'refused' && err.status >= 400 && err.status < 500 && err.code !== 10071) {
      this.#fail(new JournalError(ErrorCode.PUBLISH_REJECTED,
        `${this.path}: stream ${this.stream} refused record seq ${e.seq} (${err.message}): fix the stream's limits, or the record`, { path: this.path, cause: err }));
      return;
    }
    if (err.reason === 'too-big') {
      this.#fail(new JournalError(ErrorCode.PUBLISH_REJECTED,
        `${this.path}: record seq ${e.seq} cannot be published (${err.message}): raise the server's max_payload, or make the record smaller`, { path: this.path, cause: err }));
      return;
    }
    if (err.reason === 'closed') {
      // The client closed the connection for good (it reconnects by itself otherwise).
      this.#fail(new JournalError(ErrorCode.NATS_ERROR, `shipping ${this.path} to stream ${this.stream} stopped: ${err.message}`, { path: this.path, cause: err }));
      return;
    }
    this.#startResync(`publishing seq ${e.seq} failed: ${err.message}`);
  }

  #startResync(reason: string): void {
    if (this.#resync !== null) return;
    this.#epoch++;
    this.#resync = this.#doResync(reason).then(() => {
      this.#resync = null;
      if (this.#closing === null) this.#sendPending();
    }, (err) => {
      this.#resync = null;
      this.#fail(err);
    });
  }

  async #doResync(reason: string): Promise<void> {
    // Publishes of the old epoch may still land; only after they settle does the stream's end say it all.
    await this.#allSettled();
    this.#stats.resyncs++;
    const info = await streamInfo(this.#conn, this.stream, this.#retry);
    shippingSubject(info, this.#subject);
    const end = await this.#streamEnd(info.state.last_seq, this.#retry);
    const inStream = end.journalSeq ?? this.#ackedSeq;
    for (let i = this.#head; i < this.#queue.length; i++) if (this.#queue[i]!.seq <= inStream) this.#queue[i]!.acked = true;
    this.#expect = end.streamSeq;
    this.#next = this.#head;
    this.#advance();
    this.#next = Math.max(this.#next, this.#head);
    this.#opts.onEvent?.({ type: 'resync', reason, streamSeq: end.streamSeq, journalSeq: end.journalSeq });
  }

  /**
   * The stream's last sequence and the journal record its message holds: journalSeq 0 for an
   * empty stream, null when the newest message was removed (by limits) so the stream cannot say.
   */
  async #streamEnd(lastSeq: number, retry: RetryOptions): Promise<{ streamSeq: number; journalSeq: number | null; rec: StreamRecord | null }> {
    if (lastSeq === 0) return { streamSeq: 0, journalSeq: 0, rec: null };
    const rec = await recordAt(this.#conn, this.stream, lastSeq, false, retry, (seq, subject, why) => new JournalError(ErrorCode.STREAM_MISCONFIGURED,
      `stream ${this.stream} holds a message that is not a journal record (stream seq ${seq}, subject ${subject}: ${why}): ship each journal to a stream of its own`));
    if (rec === null) return { streamSeq: lastSeq, journalSeq: null, rec: null };
    if (rec.journalId !== this.#journal.id) {
      throw new JournalError(ErrorCode.STREAM_MISCONFIGURED,
        `stream ${this.stream} holds records of another journal (${rec.journalId}, at stream seq ${rec.streamSeq}); ${this.path} is ${this.#journal.id}: ship each journal to a stream of its own`, { path: this.path });
    }
    return { streamSeq: lastSeq, journalSeq: rec.seq, rec };
  }

  /** Checks that the stream's newest record is the journal's record under that seq (DIVERGED if not). */
  async #compareWithJournal(rec: StreamRecord): Promise<void> {
    const diverged = (why: string) => new JournalError(ErrorCode.DIVERGED,
      `${this.path}: stream ${this.stream} holds this journal's records up to seq ${rec.seq}, but ${why}; restore the journal from the stream, or ship it to a new stream`, { path: this.path });
    const reader = readJournal(this.path, { fromSeq: rec.seq, data: 'text' });
    try {
      const first = await reader.next();
      if (!first.done && first.value.seq === rec.seq) {
        const text = first.value.data;
        // Older shippers published the data as JSON.stringify wrote the parsed value.
        if (first.value.ts !== rec.ts || (text !== rec.json && JSON.stringify(JSON.parse(text)) !== rec.json)) {
          throw diverged(`the journal's record at seq ${rec.seq} is another one`);
        }
      } else if (first.done && (reader.header?.maxSeq ?? 0) < rec.seq) {
        throw diverged('the journal ends before that seq (did it lose records, or is it an older copy?)');
      }
    } finally {
      await reader.return();
    }
  }

  #scheduleCommit(): void {
    if (this.#committing) return;
    this.#committing = true;
    void this.#commitLoop();
  }

  async #commitLoop(): Promise<void> {
    try {
      while (this.#ackedSeq > this.#consumer.committedSeq && this.#failed === null) {
        const wait = this.#lastCommit + COMMIT_INTERVAL_MS - performance.now();
        if (wait > 0 && !this.#positionAwaited()) {
          await new Promise<void>((resolve) => {
            const wake = () => {
              clearTimeout(timer);
              this.#commitWake = null;
              resolve();
            };
            const timer = setTimeout(wake, wait);
            this.#commitWake = wake;
          });
          continue;
        }
        this.#lastCommit = performance.now();
        await this.#commitNow();
      }
    } catch (err) {
      this.#fail(err);
    } finally {
      this.#committing = false;
    }
  }

  async #commitNow(): Promise<void> {
    const seq = this.#ackedSeq;
    if (seq <= this.#consumer.committedSeq) return;
    await this.#consumer.commit(seq);
    this.#notify();
  }

  /** Resolves the waitFor() calls the position has reached; commits at once for those only the commit keeps waiting. */
  #notify(): void {
    if (this.#waiters.length === 0) return;
    const pos = this.position;
    this.#waiters = this.#waiters.filter((w) => (w.seq <= pos ? (w.resolve(), false) : true));
    if (this.#commitWake !== null && this.#positionAwaited()) this.#commitWake();
  }

  /** Whether a waitFor() call waits for records JetStream has acknowledged, or the shipper is closing. */
  #positionAwaited(): boolean {
    return this.#closing !== null || this.#waiters.some((w) => w.seq <= this.#ackedSeq);
  }

  #allSettled(): Promise<void> {
    if (this.#outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.#settled.push(resolve));
  }

  #fail(err: unknown): void {
    if (this.#closing !== null && err instanceof JournalError && err.code === ErrorCode.ABORTED) return;
    if (this.#failed !== null) return;
    this.#failed = err instanceof JournalError ? err : natsError(err, `shipping ${this.path} to stream ${this.stream} failed`);
    for (const w of this.#waiters.splice(0)) w.reject(this.#failed);
    void this.close().catch(() => {});
  }
}

function closedError(file: string): JournalError {
  return new JournalError(ErrorCode.CLOSED, `${file}: the shipper is closed`, { path: file });
}
