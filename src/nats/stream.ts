/**
 * What ship and restore ask of a JetStream stream: that it exists and can hold a journal, and which
 * record its newest message is; passing failures are retried with backoff.
 */
import type { MsgRequest, StreamInfo } from '@nats-io/jetstream';
import { ErrorCode, JournalError } from 'jsonl-journal';
import { backoffMs, isTransient, natsError, sleep, type Connection, type ConnectionEvent } from './client.js';
import { decodeRecord, type WireRecord } from './wire.js';

export interface RetryOptions {
  signal: AbortSignal | undefined;
  onEvent: ((e: ConnectionEvent) => void) | undefined;
  /** Fail at the first transient error instead of retrying. */
  failFast: boolean;
}

/** Runs a JetStream request, retrying while it fails for a passing reason. */
export async function retrying<T>(what: string, o: RetryOptions, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof JournalError) throw err;
      if (!isTransient(err)) throw natsError(err, what);
      const e = new JournalError(ErrorCode.NATS_UNREACHABLE, `${what}: ${(err as Error).message}`, { cause: err });
      if (o.failFast) throw e;
      const delayMs = backoffMs(attempt);
      o.onEvent?.({ type: 'retry', what, attempt, delayMs, error: e });
      await sleep(delayMs, o.signal);
    }
  }
}

/** The stream's configuration and state; STREAM_NOT_FOUND if there is no such stream. */
export async function streamInfo(conn: Connection, stream: string, o: RetryOptions): Promise<StreamInfo> {
  const where = conn.nc.getServer();
  try {
    return await retrying(`cannot read stream ${stream}`, o, () => conn.jsm.streams.info(stream));
  } catch (err) {
    if (err instanceof JournalError && err.code === ErrorCode.STREAM_NOT_FOUND) {
      throw new JournalError(ErrorCode.STREAM_NOT_FOUND,
        `stream ${stream} does not exist on ${where}: create it first, with retention 'limits' and a subject to publish to (for example: nats stream add ${stream} --subjects ${stream.toLowerCase()} --storage file --retention limits --defaults)`,
        { cause: err });
    }
    throw err;
  }
}

/**
 * Checks that records can be shipped to the stream, and returns the subject to publish them on:
 * `subject` if given (it must be one of the stream's), else the stream's only subject.
 */
export function shippingSubject(info: StreamInfo, subject: string | undefined): string {
  const c = info.config;
  const name = c.name;
  const misconfigured = (why: string) => new JournalError(ErrorCode.STREAM_MISCONFIGURED, `stream ${name} ${why}`);
  if (c.mirror) throw misconfigured('is a mirror of another stream and takes no publishes: ship to a stream of its own');
  if (c.sealed) throw misconfigured('is sealed and takes no publishes');
  if (c.no_ack) throw misconfigured('has no_ack set: the shipper needs JetStream\'s acknowledgements to know what the stream holds; turn no_ack off');
  if (c.retention !== 'limits') {
    throw misconfigured(`has retention '${c.retention}', which deletes messages once they are consumed, so a restore could not find them; use retention 'limits'`);
  }
  const subjects = c.subjects ?? [];
  if (subjects.length === 0) throw misconfigured('has no subjects: add one to publish the journal on');
  if (subject === undefined) {
    if (subjects.length === 1 && !/[*>]/.test(subjects[0]!)) return subjects[0]!;
    throw new TypeError(`stream ${name} has the subjects ${subjects.join(', ')}: say which subject to publish to (subject option, --subject)`);
  }
  if (/[*>\s]/.test(subject) || subject === '') throw new TypeError(`subject must be a literal NATS subject (no wildcards or spaces), not ${JSON.stringify(subject)}`);
  if (!subjects.some((p) => subjectMatches(subject, p))) {
    throw misconfigured(`does not take the subject ${subject} (its subjects are ${subjects.join(', ')}): add ${subject} to the stream's subjects, or publish to one of them`);
  }
  return subject;
}

/** Whether a literal subject matches a subject pattern with `*` (one token) and `>` (the rest). */
export function subjectMatches(subject: string, pattern: string): boolean {
  const s = subject.split('.');
  const p = pattern.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return s.length === p.length;
}

/** A record as found in the stream, with the stream sequence of its message. */
export interface StreamRecord extends WireRecord {
  streamSeq: number;
}

/**
 * The record in the message at stream sequence `seq`, or, with `next`, in the first message at or
 * after it; null if there is none. A message that is not a shipped record fails with `foreign`.
 */
export async function recordAt(conn: Connection, stream: string, seq: number, next: boolean, o: RetryOptions,
  foreign: (streamSeq: number, subject: string, why: string) => JournalError): Promise<StreamRecord | null> {
  const m = await retrying(`cannot read message ${seq} of stream ${stream}`, o,
    // The API takes next_by_subj (first message at or after seq) since server 2.9; the client's type lags behind.
    () => conn.jsm.streams.getMessage(stream, (next ? { seq, next_by_subj: '>' } : { seq }) as MsgRequest));
  if (m === null) return null;
  const rec = decodeRecord(m.header, m.data);
  if (typeof rec === 'string') throw foreign(m.seq, m.subject, rec);
  return { ...rec, streamSeq: m.seq };
}
