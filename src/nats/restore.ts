/**
 * restore(): rebuilds a journal from the stream a shipper filled, every record's seq and timestamp
 * and the journal's identity kept; a later run goes on where the last one stopped.
 */
import fs from 'node:fs';
import { ErrorCode, Journal, JournalError, rawJson, readJournal, type KeptRecord, type RawJson, type RecoveredTail } from 'jsonl-journal';
import { connect, serverList, throwIfAborted, type Connection, type ConnectionEvent } from './client.js';
import { recordAt, retrying, streamInfo, type RetryOptions, type StreamRecord } from './stream.js';
import { decodeRecord } from './wire.js';

export interface RestoreOptions {
  /** The NATS server URL, or several of one cluster, tried in order. */
  server: string | readonly string[];
  /** The stream a shipper filled with one journal's records. */
  stream: string;
  /** Fail at once (NATS_UNREACHABLE) when no server answers, instead of retrying with backoff. @default false */
  failFast?: boolean;
  /** Aborting stops the restore (ABORTED); what was appended so far is a prefix the next run continues. */
  signal?: AbortSignal;
  /** Told about retries and lost and regained connections. */
  onEvent?: (event: RestoreEvent) => void;
  /** Called as records are appended. */
  onProgress?: (progress: RestoreProgress) => void;
}

export type RestoreEvent = ConnectionEvent;

export interface RestoreProgress {
  /** Records appended so far in this run. */
  restored: number;
  /** Messages this run reads from the stream (at most; fewer if some were removed meanwhile). */
  total: number;
}

export interface RestoreResult {
  /** The journal's id (null when the stream was empty and there was no local journal). */
  journalId: string | null;
  /** Records appended by this run (0 when the journal was up to date). */
  restored: number;
  /** The first and last seq appended by this run. */
  firstSeq: number | null;
  lastSeq: number | null;
  /** The torn tail that opening the local journal cut, and where its bytes were saved; null if none. */
  cut: RecoveredTail | null;
}

/** Records per appendRecords group, and appends awaiting their sync at most. */
const GROUP_RECORDS = 1000;
const GROUP_BYTES = 4 * 1024 * 1024;
const APPENDS_IN_FLIGHT = 4;

/**
 * Restores the journal at `file` from the stream: creates it (with the stream's journal id) or
 * appends to it what the stream holds after its last seq, up to the stream's end when the call
 * started. Rejects with NATS_CLIENT_MISSING, NATS_UNREACHABLE, STREAM_NOT_FOUND,
 * STREAM_MISCONFIGURED (records of two journals), BAD_MESSAGE, DIVERGED (the local journal is
 * another journal, or holds other records than the stream), ABORTED, and the journal's own errors.
 */
export async function restore(file: string, options: RestoreOptions): Promise<RestoreResult> {
  if (typeof file !== 'string' || file === '') throw new TypeError('path must be a non-empty string');
  if (options === null || typeof options !== 'object') throw new TypeError('restore needs options: { server, stream }');
  if (typeof options.stream !== 'string' || options.stream === '') throw new TypeError('stream must be a JetStream stream name');
  const servers = serverList(options.server);
  const retry: RetryOptions = { signal: options.signal, onEvent: options.onEvent, failFast: options.failFast ?? false };
  const conn = await connect({ servers, failFast: retry.failFast, name: 'jsonl-journal restore', signal: options.signal, onEvent: options.onEvent });
  try {
    return await new Restore(file, options, conn, retry).run();
  } finally {
    await conn.nc.close().catch(() => {});
  }
}

class Restore {
  readonly #file: string;
  readonly #stream: string;
  readonly #opts: RestoreOptions;
  readonly #conn: Connection;
  readonly #retry: RetryOptions;
  #journal: Journal | null = null;
  #journalId: string | null = null;
  /** What opening the local journal cut. */
  #cut: RecoveredTail | null = null;
  /** Whether a record of the stream was found to be the local journal's. */
  #matched = false;
  /** The last seq in the local journal (appended or queued). */
  #lastSeq = 0;
  #restored = 0;
  #firstSeq: number | null = null;
  #pending: Array<Promise<unknown>> = [];

  constructor(file: string, o: RestoreOptions, conn: Connection, retry: RetryOptions) {
    this.#file = file;
    this.#stream = o.stream;
    this.#opts = o;
    this.#conn = conn;
    this.#retry = retry;
  }

  async run(): Promise<RestoreResult> {
    try {
      const info = await streamInfo(this.#conn, this.#stream, this.#retry);
      const { first_seq: firstStreamSeq, last_seq: end, messages } = info.state;
      if (fs.existsSync(this.#file)) {
        this.#journal = await Journal.open(this.#file, { create: false });
        this.#cut = this.#journal.recovered;
        this.#journalId = this.#journal.id;
        this.#lastSeq = this.#journal.lastSeq;
      }
      if (messages > 0 && end > 0) {
        const start = this.#lastSeq === 0 ? firstStreamSeq : await this.#startAfterLocal(firstStreamSeq, end);
        if (start <= end) await this.#copy(start, end);
      }
      await this.#drain();
      await this.#journal?.close();
      this.#journal = null;
      return { journalId: this.#journalId, restored: this.#restored, firstSeq: this.#firstSeq, lastSeq: this.#restored > 0 ? this.#lastSeq : null, cut: this.#cut };
    } finally {
      await Promise.allSettled(this.#pending);
      await this.#journal?.close().catch(() => {});
    }
  }

  /**
   * The stream sequence of the first record after the local journal's last seq (end + 1 if none),
   * found by bisection; checks on the way that the stream's record under that seq is the local one.
   */
  async #startAfterLocal(first: number, end: number): Promise<number> {
    const n = this.#lastSeq;
    let lo = first;
    let hi = end + 1;
    let before: StreamRecord | null = null;
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const r = await this.#recordAtOrAfter(mid);
      if (r !== null) this.#checkIdentity(r);
      if (r === null || r.streamSeq > end || r.seq > n) {
        hi = mid;
      } else {
        before = r;
        lo = r.streamSeq + 1;
      }
    }
    if (before !== null && before.seq === n) await this.#compareLocal(before);
    else if (before !== null && lo <= end) {
      throw this.#diverged(`the stream holds no record under seq ${n}, the journal's last, but holds later ones`);
    }
    return lo;
  }

  async #recordAtOrAfter(seq: number): Promise<StreamRecord | null> {
    return recordAt(this.#conn, this.#stream, seq, true, this.#retry, (s, subject, why) => this.#badMessage(s, subject, why));
  }

  async #compareLocal(rec: StreamRecord): Promise<void> {
    const reader = readJournal(this.#file, { fromSeq: rec.seq });
    try {
      const r = await reader.next();
      if (r.done || r.value.seq !== rec.seq || r.value.ts !== rec.ts || JSON.stringify(r.value.data) !== rec.json) {
        throw this.#diverged(`its record at seq ${rec.seq} is not the one the stream holds (stream seq ${rec.streamSeq})`);
      }
    } finally {
      await reader.return();
    }
  }

  /** Reads the stream from stream sequence `start` to `end` and appends its records. */
  async #copy(start: number, end: number): Promise<void> {
    const total = end - start + 1;
    const consumer = await retrying(`cannot read stream ${this.#stream}`, this.#retry,
      () => this.#conn.js.consumers.get(this.#stream, { deliver_policy: this.#conn.nats.jetstream.DeliverPolicy.StartSequence, opt_start_seq: start }));
    const messages = await retrying(`cannot read stream ${this.#stream}`, this.#retry, () => consumer.consume({ max_messages: GROUP_RECORDS }));
    const onAbort = () => void messages.close().catch(() => {});
    this.#opts.signal?.addEventListener('abort', onAbort, { once: true });
    let group: KeptRecord[] = [];
    let groupBytes = 0;
    try {
      for await (const m of messages) {
        const rec = decodeRecord(m.headers, m.data);
        if (typeof rec === 'string') throw this.#badMessage(m.seq, m.subject, rec);
        this.#checkIdentity({ ...rec, streamSeq: m.seq });
        if (rec.seq <= this.#lastSeq) {
          throw new JournalError(ErrorCode.BAD_MESSAGE,
            `stream ${this.#stream}: the message at stream seq ${m.seq} holds seq ${rec.seq}, not above the seq before it (${this.#lastSeq}); the stream is out of order`);
        }
        let data: RawJson;
        try {
          // Stored as it came, numbers digit for digit.
          data = rawJson(rec.json);
        } catch (err) {
          throw this.#badMessage(m.seq, m.subject, `its payload is not JSON a journal can hold (${(err as Error).message})`);
        }
        if (this.#journal === null) await this.#create(rec.journalId, rec.created);
        group.push({ seq: rec.seq, ts: rec.ts, data });
        groupBytes += m.data.length;
        this.#firstSeq ??= rec.seq;
        this.#lastSeq = rec.seq;
        const last = m.seq >= end || m.info.pending === 0;
        if (last || group.length >= GROUP_RECORDS || groupBytes >= GROUP_BYTES) {
          await this.#append(group, total);
          group = [];
          groupBytes = 0;
        }
        if (last) break;
      }
      throwIfAborted(this.#opts.signal);
    } finally {
      this.#opts.signal?.removeEventListener('abort', onAbort);
      await messages.close().catch(() => {});
    }
  }

  async #create(id: string, created: number): Promise<void> {
    this.#journal = await Journal.open(this.#file, { identity: { id, created } });
    this.#journalId = this.#journal.id;
    this.#matched = true;
    if (this.#journal.id !== id) throw this.#diverged(`it is journal ${this.#journal.id}, and the stream holds journal ${id}`);
  }

  async #append(group: KeptRecord[], total: number): Promise<void> {
    const n = group.length;
    const p = this.#journal!.appendRecords(group).then(() => {
      this.#restored += n;
      this.#opts.onProgress?.({ restored: this.#restored, total });
    });
    this.#pending.push(p);
    if (this.#pending.length >= APPENDS_IN_FLIGHT) await this.#pending.shift();
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) await this.#pending.shift();
  }

  /** A record of another journal: the local journal is another one (DIVERGED), or the stream mixes journals. */
  #checkIdentity(rec: StreamRecord): void {
    if (this.#journalId === null) return;
    if (rec.journalId === this.#journalId) {
      this.#matched = true;
      return;
    }
    if (!this.#matched) throw this.#diverged(`it is journal ${this.#journalId}, and the stream holds journal ${rec.journalId}`);
    throw new JournalError(ErrorCode.STREAM_MISCONFIGURED,
      `stream ${this.#stream} holds records of two journals (${this.#journalId}, and ${rec.journalId} at stream seq ${rec.streamSeq}): restore needs a stream of one journal`);
  }

  #diverged(why: string): JournalError {
    return new JournalError(ErrorCode.DIVERGED, `${this.#file}: cannot restore from stream ${this.#stream}: ${why}; restore into a new file`, { path: this.#file });
  }

  #badMessage(streamSeq: number, subject: string, why: string): JournalError {
    return new JournalError(ErrorCode.BAD_MESSAGE, `stream ${this.#stream}: the message at stream seq ${streamSeq} (subject ${subject}) is not a shipped journal record: ${why}`);
  }
}
