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
 * Envelope.synced).
 *
 * The batch is built as one string with placeholder checksums and encoded with one Buffer write;
 * the checksums are then computed over the encoded bytes and patched in. One encode call per batch
 * instead of several per record is most of the encoder's cost.
 */
export function encodeBatch(records: readonly PendingRecord[], firstSeq: number, synced: number): EncodedBatch {
  const last = records.length - 1;
  const offsets = new Array<number>(records.length);
  let text = '';
  let bytes = 0;
  let ascii = true;
  for (let i = 0; i <= last; i++) {
    const r = records[i]!;
    const head = `00000000 {"seq":${r.seq ?? firstSeq + i},"ts":${r.ts},"data":`;
    const tail = i === last ? `,"commit":${records.length},"synced":${synced}}\n` : '}\n';
    offsets[i] = bytes;
    bytes += head.length + r.dataBytes + tail.length;
    if (!r.ascii) ascii = false;
    text += head + r.dataJson + tail;
  }
  const buf = Buffer.allocUnsafe(bytes);
  buf.write(text, 0, ascii ? 'latin1' : 'utf8');
  for (let i = 0; i <= last; i++) {
    const lf = (i === last ? bytes : offsets[i + 1]!) - 1;
    writeCrc(buf, offsets[i]!, lf);
  }
  return { bytes: buf, offsets };
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
