/**
 * How a journal record travels as a JetStream message: payload and headers, in one place
 * (docs/api.md, "The messages", describes it for readers of the stream).
 */
import type { MsgHdrs } from '@nats-io/transport-node';

export const Header = {
  msgId: 'Nats-Msg-Id',
  /** Not part of the record: the stream sequence the server must find last for the publish to be stored. */
  expectedLastSeq: 'Nats-Expected-Last-Sequence',
  journalId: 'Journal-Id',
  created: 'Journal-Created',
  seq: 'Journal-Seq',
  ts: 'Journal-Ts',
} as const;

/** The message id of a record: unique per journal and seq, so a republished record is recognised. */
export function msgId(journalId: string, seq: number): string {
  return `${journalId}:${seq}`;
}

/** A record as read back from a message. `json` is the data's JSON text, as the journal stored it. */
export interface WireRecord {
  journalId: string;
  created: number;
  seq: number;
  ts: number;
  json: string;
}

/*
 * These add headers to a fresh MsgHdrs from the NATS client, which has none of them yet: append
 * then does what set would, without set's search for earlier values to remove (the client's header
 * handling is a good part of what a publish costs).
 */

/** Adds a record's headers to `h`. */
export function setRecordHeaders(h: MsgHdrs, journal: { id: string; created: number }, seq: number, ts: number): MsgHdrs {
  h.append(Header.journalId, journal.id);
  h.append(Header.created, String(journal.created));
  h.append(Header.seq, String(seq));
  h.append(Header.ts, String(ts));
  return h;
}

/** Adds what a publish of a record asks of JetStream: dedup by its message id, and where the stream must end. */
export function setPublishHeaders(h: MsgHdrs, journalId: string, seq: number, expectedLastSeq: number): MsgHdrs {
  h.append(Header.msgId, msgId(journalId, seq));
  h.append(Header.expectedLastSeq, String(expectedLastSeq));
  return h;
}

/** Reads a shipped record out of a message's headers and payload, or returns why it is not one. */
export function decodeRecord(headers: MsgHdrs | undefined, payload: Uint8Array): WireRecord | string {
  if (headers === undefined) return 'it has no headers';
  const journalId = headers.get(Header.journalId);
  if (journalId === '') return `it has no ${Header.journalId} header`;
  const seq = count(headers.get(Header.seq));
  const ts = count(headers.get(Header.ts));
  const created = count(headers.get(Header.created));
  if (seq === null || seq < 1) return `its ${Header.seq} header is missing or not a positive integer`;
  if (ts === null) return `its ${Header.ts} header is missing or not an integer`;
  if (created === null) return `its ${Header.created} header is missing or not an integer`;
  const json = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  return { journalId, created, seq, ts, json };
}

function count(s: string): number | null {
  if (!/^\d{1,16}$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}
