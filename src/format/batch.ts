/** Encoding what writers append: a value made ready to store, and a batch of records framed with its commit mark (docs/format.md §3–§4). */
import { ErrorCode, JournalError } from '../errors.js';
import { writeCrc } from './frame.js';
import { stringifyExact } from './json.js';
import { FRAME_PREFIX } from './limits.js';

/** One value waiting to be framed: its data already serialized (so a bad value fails at append). */
export interface PendingRecord {
  dataJson: string;
  /** UTF-8 length of dataJson. */
  dataBytes: number;
  /** True when dataJson is pure ASCII, which lets the encoder copy it as latin1. */
  ascii: boolean;
  ts: number;
  /** A seq of its own (compaction keeps the seqs it copies); otherwise the batch assigns the next one. */
  seq?: number;
}

/** Fixed bytes per record besides the data: frame, keys, and generous room for numbers. */
const RECORD_OVERHEAD = FRAME_PREFIX + '{"seq":,"ts":,"data":}'.length + 16 + 16 + 1;
const COMMIT_OVERHEAD = ',"commit":,"synced":'.length + 16 + 16;

/** Upper bound of the bytes a record with this much data takes in the file. */
export function recordSizeBound(dataBytes: number): number {
  return RECORD_OVERHEAD + COMMIT_OVERHEAD + dataBytes;
}

export interface EncodedBatch {
  bytes: Buffer;
  /** Offset of each record's line within `bytes`. */
  offsets: number[];
}

/**
 * Frames a batch: records get seqs firstSeq, firstSeq+1, ... (unless they carry their own), and the
 * last line carries the commit mark. `synced` is the durable offset the writer vouches for (see
 * Envelope.synced). The bytes are the caller's to keep.
 */
export function encodeBatch(records: readonly PendingRecord[], firstSeq: number, synced: number): EncodedBatch {
  const enc = new BatchEncoder();
  const bytes = enc.encode(records, firstSeq, synced);
  return { bytes, offsets: enc.offsets };
}

/** Batches up to this size are framed in the buffer the encoder keeps; a larger one gets a buffer of its own, which goes with it. */
const KEPT_BUFFER_MAX = 1024 * 1024;

/**
 * Frames batches as encodeBatch does, into one buffer it keeps from batch to batch. Each record's
 * JSON is copied straight into place (as latin1 when it is ASCII, a plain copy), the envelope's
 * numbers are written digit by digit, and each line's checksum is computed over its bytes once
 * they are in place: no string is built for the batch, so there is nothing to flatten or copy
 * twice, and a writer allocates nothing per batch but the view it writes.
 */
export class BatchEncoder {
  #buf: Buffer = Buffer.alloc(0);
  /** Offset of each record's line within the last batch's bytes. */
  readonly offsets: number[] = [];

  /**
   * The framed batch: a view of the encoder's buffer, valid until the next encode, so it must not
   * be written after that (a writer encodes its next batch only once the last write returned).
   */
  encode(records: readonly PendingRecord[], firstSeq: number, synced: number): Buffer {
    let bound = COMMIT_OVERHEAD;
    for (let i = 0; i < records.length; i++) bound += RECORD_OVERHEAD + records[i]!.dataBytes;
    let buf = this.#buf;
    if (bound > buf.length) {
      buf = Buffer.allocUnsafe(bound > KEPT_BUFFER_MAX ? bound : Math.min(KEPT_BUFFER_MAX, Math.max(bound, 2 * buf.length, 64 * 1024)));
      if (buf.length <= KEPT_BUFFER_MAX) this.#buf = buf;
    }
    const offsets = this.offsets;
    offsets.length = records.length;
    const last = records.length - 1;
    let o = 0;
    for (let i = 0; i <= last; i++) {
      const r = records[i]!;
      const line = o;
      offsets[i] = line;
      o = putAscii(buf, o, LINE_START);
      o = putInt(buf, o, r.seq ?? firstSeq + i);
      o = putAscii(buf, o, TS_KEY);
      o = putInt(buf, o, r.ts);
      o = putAscii(buf, o, DATA_KEY);
      o += buf.write(r.dataJson, o, r.ascii ? 'latin1' : 'utf8');
      if (i === last) {
        o = putAscii(buf, o, COMMIT_KEY);
        o = putInt(buf, o, records.length);
        o = putAscii(buf, o, SYNCED_KEY);
        o = putInt(buf, o, synced);
      }
      buf[o++] = CLOSE_BRACE;
      buf[o++] = LF;
      writeCrc(buf, line, o - 1);
    }
    return buf.subarray(0, o);
  }
}

/** The fixed pieces of a record line, the checksum a placeholder until writeCrc. */
const LINE_START = Buffer.from('00000000 {"seq":', 'latin1');
const TS_KEY = Buffer.from(',"ts":', 'latin1');
const DATA_KEY = Buffer.from(',"data":', 'latin1');
const COMMIT_KEY = Buffer.from(',"commit":', 'latin1');
const SYNCED_KEY = Buffer.from(',"synced":', 'latin1');
const CLOSE_BRACE = 0x7d;
const LF = 0x0a;

/** A byte loop: for pieces this short it is cheaper than a call to copy them. */
function putAscii(buf: Buffer, at: number, piece: Buffer): number {
  for (let k = 0; k < piece.length; k++) buf[at + k] = piece[k]!;
  return at + piece.length;
}

/** Writes the decimal digits of `v`, a non-negative safe integer, as JSON writes it. */
function putInt(buf: Buffer, at: number, v: number): number {
  let digits = 1;
  for (let p = 10; p <= v; p *= 10) digits++;
  let x = v;
  for (let p = at + digits - 1; p >= at; p--) {
    const d = x % 10;
    buf[p] = 0x30 + d;
    // Exact: x - d is a multiple of 10 that a double holds, and so is the quotient.
    x = (x - d) / 10;
  }
  return at + digits;
}

/**
 * Serializes a value for a record appended at `ts`, rejecting what JSON cannot represent instead
 * of letting JSON.stringify drop or mangle it silently: undefined, functions and symbols (anywhere,
 * not only at the top), cycles, NaN and Infinity. Objects with toJSON are stored as toJSON
 * returns; BigInts and rawJson() texts are stored exactly.
 */
export function prepareRecord(value: unknown, ts: number): PendingRecord {
  let json: string | undefined;
  try {
    json = stringifyExact(value);
  } catch (err) {
    throw new JournalError(ErrorCode.INVALID_VALUE, `value cannot be stored as JSON: ${(err as Error).message}`, { cause: err });
  }
  if (json === undefined) {
    throw new JournalError(ErrorCode.INVALID_VALUE, `value cannot be stored as JSON: ${typeof value} is not a JSON value`);
  }
  const bad = findUnrepresentable(value, 0);
  if (bad !== null) throw new JournalError(ErrorCode.INVALID_VALUE, `value cannot be stored as JSON: ${bad}`);
  const dataBytes = Buffer.byteLength(json);
  return { dataJson: json, dataBytes, ascii: dataBytes === json.length, ts };
}

/** Called only after JSON.stringify succeeded, so there is no cycle to guard against. */
function findUnrepresentable(v: unknown, depth: number): string | null {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return null;
    case 'number':
      return Number.isFinite(v) ? null : `${v} is not a JSON number`;
    case 'object': {
      if (v === null) return null;
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return null;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const bad = findUnrepresentable(v[i], depth + 1);
          if (bad !== null) return `[${i}]: ${bad}`;
        }
        return null;
      }
      for (const k in v) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
        const bad = findUnrepresentable((v as Record<string, unknown>)[k], depth + 1);
        if (bad !== null) return `.${k}: ${bad}`;
      }
      return null;
    }
    default:
      return `${typeof v} is not a JSON value`;
  }
}
