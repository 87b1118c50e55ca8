/**
 * The on-disk format, in one place. docs/format.md is the specification; this module implements it
 * and nothing else in the code knows how a line is framed.
 *
 *   line    = crc SP json LF        crc: 8 lowercase hex digits, CRC-32 (IEEE) of the json bytes
 *   header  = the first line:  {"format":"jsonl-journal","version":1,"id":..,"created":..,"generation":..,"maxSeq":..,"minSeq":..}
 *   record  = every other line: {"seq":N,"ts":MS,"data":VALUE}
 *   commit  = the last record of each batch also carries "commit":K (the batch's record count) and
 *             "synced":S (every byte before offset S was durable before this line was written).
 *
 * Records become visible only when a commit line closes their batch: a batch without its commit
 * line is an unfinished write (a torn tail), which is how appendMany is all-or-nothing and how a
 * reader tells the durable prefix from what a crash left behind (see scan.ts).
 */
import { randomUUID } from 'node:crypto';
import { crc32, crc32Feed1Register, crc32Feed8Register, crc32Native, crc32SkipRegister } from './crc.js';
import { ErrorCode, JournalError } from './errors.js';

export const FORMAT_NAME = 'jsonl-journal';
export const FORMAT_VERSION = 1;

/** Bytes of `crc SP` before the JSON of every line. */
export const FRAME_PREFIX = 9;
const SP = 0x20;
const LF = 0x0a;

export interface Header {
  format: typeof FORMAT_NAME;
  version: number;
  /** Random identity of the journal; kept by compaction, so a consumer can tell journals apart. */
  id: string;
  /** Creation time of the journal (ms since the epoch); kept by compaction. */
  created: number;
  /** 0 for a journal as created; each compaction writes generation + 1. */
  generation: number;
  /** The highest seq ever assigned when this file was written: seqs are never reused. */
  maxSeq: number;
  /** Records with a lower seq were removed by retention (compaction's beforeSeq); 1 until then. */
  minSeq: number;
}

/** A record as stored: the envelope of one non-header line. */
export interface Envelope {
  seq: number;
  ts: number;
  data: unknown;
  /** Present only on a batch's last line: how many records the batch holds. */
  commit?: number;
  /** Present only on a batch's last line: a byte offset the writer knew to be durable. */
  synced?: number;
}

/** A decoded line's envelope, or (a string) the reason the line is damaged. */
export type DecodedLine = Envelope | string;

export function newHeader(fields: Partial<Pick<Header, 'id' | 'created' | 'generation' | 'maxSeq' | 'minSeq'>> = {}): Header {
  return {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    id: fields.id ?? randomUUID(),
    created: fields.created ?? Date.now(),
    generation: fields.generation ?? 0,
    maxSeq: fields.maxSeq ?? 0,
    minSeq: fields.minSeq ?? 1,
  };
}

/** The header line, framed, as bytes. Key order is part of the format. */
export function encodeHeader(h: Header): Buffer {
  const json = JSON.stringify({
    format: h.format, version: h.version, id: h.id, created: h.created, generation: h.generation, maxSeq: h.maxSeq, minSeq: h.minSeq,
  });
  return frameJson(json);
}

/**
 * Decodes a framed line that is not a record (a header, a consumer position): the parsed JSON, or
 * the reason the frame is damaged.
 */
export function decodeFrame(line: Uint8Array): { value: unknown } | string {
  const bad = frameError(line, 0, line.length);
  if (bad !== null) return bad;
  try {
    return { value: JSON.parse(Buffer.from(line.buffer, line.byteOffset + FRAME_PREFIX, line.length - FRAME_PREFIX).toString('utf8')) };
  } catch {
    return 'invalid JSON';
  }
}

/** Frames one JSON text (no raw LF in it) as a line. */
export function frameJson(json: string): Buffer {
  const buf = Buffer.from(`00000000 ${json}\n`, 'utf8');
  writeCrc(buf, 0, buf.length - 1);
  return buf;
}

/**
 * Decodes the first line of a file. Distinguishes "this is not a journal" (no frame at all) from
 * a damaged header (a frame whose checksum fails), because the first is a wrong path and the second
 * is corruption of a real journal.
 */
export function decodeHeader(line: Uint8Array, path: string): Header {
  const notJournal = (why: string) =>
    new JournalError(ErrorCode.NOT_A_JOURNAL, `${path} is not a jsonl-journal file (${why})`, { path, offset: 0, line: 1 });
  if (line.length < FRAME_PREFIX + 2 || parseHex(line, 0) < 0 || line[8] !== SP || line[FRAME_PREFIX] !== 0x7b) {
    throw notJournal(line.length === 0 ? 'empty file' : 'first line is not a journal header');
  }
  if (frameError(line, 0, line.length) !== null) {
    throw new JournalError(ErrorCode.CORRUPT, `${path}: header line is damaged (checksum mismatch)`, { path, offset: 0, line: 1 });
  }
  let h: unknown;
  try {
    h = JSON.parse(Buffer.from(line.buffer, line.byteOffset + FRAME_PREFIX, line.length - FRAME_PREFIX).toString('utf8'));
  } catch {
    throw notJournal('header is not JSON');
  }
  const o = h as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || o.format !== FORMAT_NAME) throw notJournal('no "format":"jsonl-journal" in the first line');
  if (o.version !== FORMAT_VERSION) {
    throw new JournalError(ErrorCode.UNSUPPORTED_VERSION, `${path}: format version ${String(o.version)} is not supported (this library reads version ${FORMAT_VERSION})`, { path, offset: 0, line: 1 });
  }
  if (typeof o.id !== 'string' || !isCount(o.created) || !isCount(o.generation) || !isCount(o.maxSeq) || !isSeq(o.minSeq)) {
    throw new JournalError(ErrorCode.CORRUPT, `${path}: header fields are missing or malformed`, { path, offset: 0, line: 1 });
  }
  return o as unknown as Header;
}

/**
 * Decodes the line `bytes[start, end)` (without its LF) into `out` (see newEnvelope), and returns
 * null, or the reason the line is damaged. The reader decodes every line of a journal into one
 * envelope and copies out what it keeps, so decoding allocates nothing but the data. `text`, when
 * given, is the same bytes as a latin1 string starting at `textBase`: the reader passes it for
 * chunks that are pure ASCII, so the JSON can be sliced out of one decoded string instead of
 * decoding every line separately.
 */
export function decodeLine(bytes: Uint8Array, start: number, end: number, out: Envelope, text?: string, textBase = 0, framed = false): string | null {
  // `framed`: checkFrames already found the frame intact.
  const bad = framed ? null : frameError(bytes, start, end);
  if (bad !== null) return bad;
  const written = decodeWritten(bytes, start, end, out, text, textBase);
  return written !== undefined ? written : decodeParsed(bytes, start, end, out, text, textBase);
}

/**
 * decodeLine for a line laid out the way this library writes it, `{"seq":N,"ts":N,"data":`, the
 * data, then `}` or the commit mark: the envelope is read from the bytes and only the data goes
 * through JSON.parse, since the envelope's keys and numbers are much of the parser's work on small
 * records. undefined when the line is laid out otherwise or its data alone is not JSON (an envelope
 * with further keys of its own, or no JSON at all): decodeParsed, which parses the whole line, then
 * decides. Whenever this decodes a line, decodeParsed would decode it the same way: the line is then
 * exactly the JSON text `{"seq":N,"ts":N,"data":V}`, with the commit mark before the final brace if
 * it has one.
 */
function decodeWritten(bytes: Uint8Array, start: number, end: number, out: Envelope, text: string | undefined, textBase: number): string | null | undefined {
  let i = start + FRAME_PREFIX;
  if (!hasAscii(bytes, i, SEQ_KEY) || (i = digits(bytes, i + SEQ_KEY.length, end)) < 0) return undefined;
  const seq = scratch;
  if (!hasAscii(bytes, i, TS_KEY) || (i = digits(bytes, i + TS_KEY.length, end)) < 0) return undefined;
  const ts = scratch;
  if (!hasAscii(bytes, i, DATA_KEY)) return undefined;
  i += DATA_KEY.length;
  const committed = commitTail(bytes, i, end);
  const dataEnd = committed ? tailStart : end - 1;
  if (!committed && bytes[dataEnd] !== 0x7d) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text !== undefined
      ? text.slice(i - textBase, dataEnd - textBase)
      : Buffer.from(bytes.buffer, bytes.byteOffset + i, dataEnd - i).toString('utf8'));
  } catch {
    return undefined;
  }
  out.seq = seq;
  out.ts = ts;
  out.data = data;
  out.commit = committed ? tailCommit : undefined;
  out.synced = committed ? tailSynced : undefined;
  return envelopeError(out);
}

/** decodeLine for any layout: the whole line through JSON.parse. */
function decodeParsed(bytes: Uint8Array, start: number, end: number, out: Envelope, text: string | undefined, textBase: number): string | null {
  let env: Envelope;
  try {
    const json = text !== undefined
      ? text.slice(start - textBase + FRAME_PREFIX, end - textBase)
      : Buffer.from(bytes.buffer, bytes.byteOffset + start + FRAME_PREFIX, end - start - FRAME_PREFIX).toString('utf8');
    env = JSON.parse(json);
  } catch {
    return 'invalid JSON';
  }
  if (typeof env !== 'object' || env === null || !('data' in env)) return 'not a record envelope';
  out.seq = env.seq;
  out.ts = env.ts;
  out.data = env.data;
  // A commit mark is its final bytes; keys of that name anywhere else are not one.
  if (commitTail(bytes, start + FRAME_PREFIX, end)) {
    if (env.commit !== tailCommit || env.synced !== tailSynced) return 'malformed commit mark';
    out.commit = tailCommit;
    out.synced = tailSynced;
  } else {
    out.commit = undefined;
    out.synced = undefined;
  }
  return envelopeError(out);
}

/**
 * Like decodeLine, for writers catching up on a file: the checksum is checked over the whole line
 * as always, but `data` is not parsed (it is returned as undefined) when the envelope starts the way
 * this library writes it, `{"seq":N,"ts":N,"data":`. A writer needs only seqs and commit marks,
 * and parsing other writers' data would multiply the cost of appending from several processes.
 * Any other layout is parsed in full. With `out`, the envelope is decoded into it (as decodeLine
 * does) instead of a new object: a scan of every line of a file then allocates nothing per line.
 */
export function decodeMarks(bytes: Uint8Array, start: number, end: number, out?: Envelope, framed = false): DecodedLine {
  // `framed`: checkFrames already found the frame intact.
  const bad = framed ? null : frameError(bytes, start, end);
  if (bad !== null) return bad;
  const env = out ?? newEnvelope();
  if (plainMarks(bytes, start, end, env)) return env;
  let i = start + FRAME_PREFIX;
  if (!hasAscii(bytes, i, SEQ_KEY) || (i = digits(bytes, i + SEQ_KEY.length, end)) < 0) return decodeParsed(bytes, start, end, env, undefined, 0) ?? env;
  const seq = scratch;
  if (!hasAscii(bytes, i, TS_KEY) || (i = digits(bytes, i + TS_KEY.length, end)) < 0) return decodeParsed(bytes, start, end, env, undefined, 0) ?? env;
  const ts = scratch;
  if (!hasAscii(bytes, i, DATA_KEY)) return decodeParsed(bytes, start, end, env, undefined, 0) ?? env;
  env.seq = seq;
  env.ts = ts;
  env.data = undefined;
  if (commitTail(bytes, i + DATA_KEY.length, end)) {
    env.commit = tailCommit;
    env.synced = tailSynced;
  } else {
    env.commit = undefined;
    env.synced = undefined;
  }
  return envelopeError(env) ?? env;
}

/**
 * decodeMarks for the line every scan meets a million times: laid out as this library writes it,
 * valid seq and ts, and no commit mark. Fills `env` and returns true only where the general code
 * below would decode the line the same way; anything else (a commit mark, another layout, a value
 * out of range) returns false and is left to that code, which also says what is wrong. The keys
 * are compared byte by byte in line and the numbers parsed into locals: written with the general
 * helpers, this took twice as long, and it is the largest share of a compaction's time per line.
 */
function plainMarks(b: Uint8Array, start: number, end: number, env: Envelope): boolean {
  let i = start + FRAME_PREFIX;
  // {"seq":
  if (b[i] !== 0x7b || b[i + 1] !== 0x22 || b[i + 2] !== 0x73 || b[i + 3] !== 0x65 || b[i + 4] !== 0x71 || b[i + 5] !== 0x22 || b[i + 6] !== 0x3a) return false;
  i += 7;
  const seqAt = i;
  let seq = 0;
  for (let c = 0; i < end && i - seqAt < 16 && (c = b[i]! - 0x30) >= 0 && c <= 9; i++) seq = seq * 10 + c;
  if (seq < 1 || seq > Number.MAX_SAFE_INTEGER || b[seqAt] === 0x30) return false;
  // ,"ts":
  if (b[i] !== 0x2c || b[i + 1] !== 0x22 || b[i + 2] !== 0x74 || b[i + 3] !== 0x73 || b[i + 4] !== 0x22 || b[i + 5] !== 0x3a) return false;
  i += 6;
  const tsAt = i;
  let ts = 0;
  for (let c = 0; i < end && i - tsAt < 16 && (c = b[i]! - 0x30) >= 0 && c <= 9; i++) ts = ts * 10 + c;
  if (i === tsAt || ts > Number.MAX_SAFE_INTEGER || (i - tsAt > 1 && b[tsAt] === 0x30)) return false;
  // ,"data":
  if (b[i] !== 0x2c || b[i + 1] !== 0x22 || b[i + 2] !== 0x64 || b[i + 3] !== 0x61 || b[i + 4] !== 0x74 || b[i + 5] !== 0x61 || b[i + 6] !== 0x22 || b[i + 7] !== 0x3a) return false;
  // A commit mark ends in a digit and `}` (commitTail); a line that could hold one goes the general way.
  const last = b[end - 2]!;
  if (b[end - 1] === 0x7d && last >= 0x30 && last <= 0x39) return false;
  env.seq = seq;
  env.ts = ts;
  env.data = undefined;
  env.commit = undefined;
  env.synced = undefined;
  return true;
}

/** An envelope for decodeLine to fill, with every field present so that its shape never changes. */
export function newEnvelope(): Envelope {
  return { seq: 0, ts: 0, data: undefined, commit: undefined, synced: undefined };
}

const SEQ_KEY = Buffer.from('{"seq":');
const TS_KEY = Buffer.from(',"ts":');
const DATA_KEY = Buffer.from(',"data":');
const COMMIT_KEY = Buffer.from(',"commit":');
const SYNCED_KEY = Buffer.from(',"synced":');

/** Number parsed by the last digits() / digitsBack() call (module scratch: no allocation per line). */
let scratch = 0;
let tailCommit = 0;
let tailSynced = 0;
/** Offset where the commit mark found by the last commitTail() call starts. */
let tailStart = 0;

function hasAscii(b: Uint8Array, at: number, key: Uint8Array): boolean {
  if (at < 0 || at + key.length > b.length) return false;
  for (let k = 0; k < key.length; k++) if (b[at + k] !== key[k]) return false;
  return true;
}

/**
 * Parses the JSON integer at `at` (no sign, no leading zero, at most 16 digits so it stays exact)
 * into `scratch`; returns the offset after it, or -1.
 */
function digits(b: Uint8Array, at: number, end: number): number {
  let v = 0;
  let i = at;
  while (i < end && i - at < 16) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x39) break;
    v = v * 10 + (c - 0x30);
    i++;
  }
  if (i === at || (i - at > 1 && b[at] === 0x30)) return -1;
  scratch = v;
  return i;
}

/** The start of the JSON integer that ends just before `end` (after `floor`), parsed into `scratch`; or -1. */
function digitsBack(b: Uint8Array, end: number, floor: number): number {
  let i = end;
  while (i > floor && end - i < 16 && b[i - 1]! >= 0x30 && b[i - 1]! <= 0x39) i--;
  return i < end && digits(b, i, end) === end ? i : -1;
}

/**
 * Whether the JSON in `[from, end)` ends with the commit mark `,"commit":K,"synced":S}`; sets
 * tailCommit and tailSynced. The commit mark is defined by these final bytes (docs/format.md §4),
 * so both decoders recognize it the same way without parsing.
 */
function commitTail(b: Uint8Array, from: number, end: number): boolean {
  if (b[end - 1] !== 0x7d) return false;
  const s = digitsBack(b, end - 1, from);
  if (s < 0 || !hasAscii(b, s - SYNCED_KEY.length, SYNCED_KEY)) return false;
  const synced = scratch;
  const c = digitsBack(b, s - SYNCED_KEY.length, from);
  if (c < 0 || c - COMMIT_KEY.length < from || !hasAscii(b, c - COMMIT_KEY.length, COMMIT_KEY)) return false;
  tailCommit = scratch;
  tailSynced = synced;
  tailStart = c - COMMIT_KEY.length;
  return true;
}

/**
 * A copy of the record line `line` (LF included, checksum intact) that ends its batch: its
 * commit mark, if it had one, is replaced by `,"commit":K,"synced":S}`, and the checksum redone.
 * Compaction copies the other lines of a batch byte for byte.
 */
export function recommitLine(line: Uint8Array, commit: number, synced: number): Buffer {
  const jsonEnd = line.length - 1;
  const cut = commitTail(line, FRAME_PREFIX, jsonEnd) ? tailStart : jsonEnd - 1;
  const tail = Buffer.from(`,"commit":${commit},"synced":${synced}}\n`, 'latin1');
  const out = Buffer.allocUnsafe(cut + tail.length);
  out.set(line.subarray(0, cut), 0);
  out.set(tail, cut);
  writeCrc(out, 0, out.length - 1);
  return out;
}

/** Why the frame of `bytes[start, end)` is not intact, or null when its checksum holds. */
function frameError(bytes: Uint8Array, start: number, end: number): string | null {
  if (end - start < FRAME_PREFIX + 2) return end === start ? 'empty line' : 'line too short';
  const want = parseHex(bytes, start);
  if (want < 0 || bytes[start + 8] !== SP) return 'no checksum frame';
  if (crc32(bytes, start + FRAME_PREFIX, end) !== want) return 'checksum mismatch';
  return null;
}

/**
 * Checks the frames of the lines in `bytes[from, to]` (`to` is the offset of the last one's LF) all
 * at once: each line's shape, and that the CRC of the whole run is what the lines' stated checksums
 * add up to (see crc.ts), with one native CRC call over the run instead of one CRC per line. Records
 * each line's LF in `lfs`. Returns the number of lines when every frame is intact; -1 when one may
 * not be (too short, longer than `maxLine`, not framed, or the sum does not hold), and the lines are
 * then to be checked one by one, which says which are damaged. Only where runCrcNative.
 */
export function checkFrames(bytes: Buffer, from: number, to: number, maxLine: number, lfs: Int32Array): number {
  let reg = -1;
  let n = 0;
  for (let i = from; i <= to;) {
    const lf = bytes.indexOf(LF, i);
    const len = lf - i;
    if (len < FRAME_PREFIX + 2 || len > maxLine || n === lfs.length) return -1;
    const want = parseHex(bytes, i);
    if (want < 0 || bytes[i + 8] !== SP) return -1;
    // The register after the checksum and SP as they are, then after the JSON as its checksum says, then after the LF.
    reg = crc32Feed1Register(crc32Feed8Register(reg, bytes, i), SP);
    reg = crc32Feed1Register(crc32SkipRegister(reg, want, len - FRAME_PREFIX), LF);
    lfs[n++] = lf;
    i = lf + 1;
  }
  return ~reg >>> 0 === crc32Native(bytes, from, to + 1) ? n : -1;
}

/** Why the envelope's fields are not those of a record, or null when they are. */
function envelopeError(e: Envelope): string | null {
  if (!isSeq(e.seq) || !isCount(e.ts)) return 'not a record envelope';
  if (e.commit !== undefined && (!isSeq(e.commit) || !isCount(e.synced))) return 'malformed commit mark';
  return null;
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}
function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** Value of each byte as a lowercase hex digit, or -1. */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) HEX_VALUE[HEX[i]!] = i;

/** Parses 8 lowercase hex digits at `at`; -1 if they are not (the caller checked the length). */
function parseHex(b: Uint8Array, at: number): number {
  let v = 0;
  for (let i = at; i < at + 8; i++) {
    const d = HEX_VALUE[b[i]!]!;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Writes the checksum of the JSON in `buf[lineStart + 9, lf)` over the 8 placeholder digits at lineStart. */
function writeCrc(buf: Buffer, lineStart: number, lf: number): void {
  let crc = crc32(buf, lineStart + FRAME_PREFIX, lf);
  for (let i = lineStart + 7; i >= lineStart; i--) {
    buf[i] = HEX[crc & 15]!;
    crc >>>= 4;
  }
}

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
 * not only at the top), BigInt, cycles, NaN and Infinity. Objects with toJSON are stored as toJSON
 * returns.
 */
export function prepareRecord(value: unknown, ts: number): PendingRecord {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
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
