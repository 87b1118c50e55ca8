/**
 * Reading a record line's envelope and commit mark (format.md §3–§4), into one envelope the caller
 * reuses, from the bytes where the layout allows: decoding allocates nothing but the data.
 */
import { frameError, writeCrc } from './frame.js';
import { exactIntegers } from './json.js';
import { FRAME_PREFIX, isCount, isSeq } from './limits.js';

/**
 * A record as stored: the envelope of one non-header line. A seal (format version 2) decodes as a
 * commit of no records, `commit: 0`, whose `synced` is its own offset; its seq and ts are 0.
 */
export interface Envelope {
  seq: number;
  ts: number;
  data: unknown;
  /** Present only on a batch's last line: how many records the batch holds (0 for a seal). */
  commit?: number;
  /** Present only on a batch's last line: a byte offset the writer knew to be durable. */
  synced?: number;
  /**
   * Set by decodeMarks: where the data's JSON starts and ends, in bytes from the line's start, for
   * a line laid out the way this library writes it; -1 for any other line. A reader that parses
   * data later finds it there without reading the envelope again.
   */
  dataFrom?: number;
  dataTo?: number;
}

/** A decoded line's envelope, or (a string) the reason the line is damaged. */
export type DecodedLine = Envelope | string;

/**
 * What a record's data is decoded as: the parsed value; the JSON text as stored (still checked to
 * parse); or the parsed value with integers a double cannot hold as BigInt.
 */
export type DataMode = 'value' | 'text' | 'bigint';

/** An envelope for the decoders to fill, with every field present so that its shape never changes. */
export function newEnvelope(): Envelope {
  return { seq: 0, ts: 0, data: undefined, commit: undefined, synced: undefined, dataFrom: -1, dataTo: -1 };
}

/**
 * Decodes the line `bytes[start, end)` (without its LF) into `out`, and returns null, or the reason
 * the line is damaged. `text`, when given, is the same bytes as a latin1 string starting at
 * `textBase`: readers pass it for runs of lines that are pure ASCII, so the JSON can be sliced out
 * of one decoded string instead of decoding every line separately. `framed`: the caller already
 * found the frame intact (checkFrames).
 */
export function decodeLine(
  bytes: Uint8Array, start: number, end: number, out: Envelope, text?: string, textBase = 0, framed = false, mode: DataMode = 'value',
): string | null {
  const bad = framed ? null : frameError(bytes, start, end);
  if (bad !== null) return bad;
  const own = decodeOwnLayout(bytes, start, end, out, text, textBase, mode);
  if (own !== undefined) return own;
  return decodeSeal(bytes, start, end, out) ? null : decodeAnyLayout(bytes, start, end, out, text, textBase, mode);
}

/**
 * decodeLine for a line laid out the way this library writes it, `{"seq":N,"ts":N,"data":`, the
 * data, then `}` or the commit mark: the envelope is read from the bytes and only the data goes
 * through JSON.parse, since the envelope's keys and numbers are much of the parser's work on small
 * records. undefined when the line is laid out otherwise or its data alone is not JSON (an envelope
 * with further keys of its own, or no JSON at all): decodeAnyLayout, which parses the whole line,
 * then decides. Whenever this decodes a line, decodeAnyLayout would decode it the same way: the
 * line is then exactly the JSON text `{"seq":N,"ts":N,"data":V}`, with the commit mark before the
 * final brace if it has one.
 */
function decodeOwnLayout(
  bytes: Uint8Array, start: number, end: number, out: Envelope, text: string | undefined, textBase: number, mode: DataMode,
): string | null | undefined {
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
    data = dataOf(text !== undefined ? text.slice(i - textBase, dataEnd - textBase) : utf8(bytes, i, dataEnd), mode);
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

/** A record's data from its JSON text, as `mode` says; throws a SyntaxError when the text is not JSON. */
export function dataOf(json: string, mode: DataMode): unknown {
  return mode === 'value' ? JSON.parse(json) : mode === 'bigint' ? JSON.parse(json, exactIntegers) : (JSON.parse(json), json);
}

/**
 * The bytes `[start, end)` as a string. A reader that parses records as it hands them out decodes
 * each one on its own: Buffer's own utf8Slice skips the wrapper Buffer and the encoding dispatch of
 * toString(), which took a tenth of such a replay. It is not in Node's documentation, but every
 * Node has it; where it were missing, toString() is the same thing.
 */
export function utf8(bytes: Uint8Array, start: number, end: number): string {
  const b = bytes as Uint8Array & { utf8Slice?: (start: number, end: number) => string };
  // A property check, not instanceof: Buffer's Symbol.hasInstance makes instanceof slow.
  if (typeof b.utf8Slice === 'function') return b.utf8Slice(start, end);
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
}

/**
 * decodeLine for any layout: the whole line through JSON.parse. In 'text' mode the data comes back
 * re-serialized, which is exact for what this library writes (decodeOwnLayout reads that) but may
 * differ in form, never in value, for other writers' layouts.
 */
function decodeAnyLayout(
  bytes: Uint8Array, start: number, end: number, out: Envelope, text: string | undefined, textBase: number, mode: DataMode = 'value',
): string | null {
  let env: Envelope;
  try {
    const json = text !== undefined
      ? text.slice(start - textBase + FRAME_PREFIX, end - textBase)
      : Buffer.from(bytes.buffer, bytes.byteOffset + start + FRAME_PREFIX, end - start - FRAME_PREFIX).toString('utf8');
    env = mode === 'bigint' ? JSON.parse(json, exactIntegers) : JSON.parse(json);
  } catch {
    return 'invalid JSON';
  }
  if (typeof env !== 'object' || env === null || !('data' in env)) return 'not a record envelope';
  out.seq = env.seq;
  out.ts = env.ts;
  out.data = mode === 'text' ? JSON.stringify(env.data) : env.data;
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
  if (decodeCommonMarks(bytes, start, end, env)) return env;
  env.dataFrom = -1;
  env.dataTo = -1;
  if (decodeSeal(bytes, start, end, env)) return env;
  let i = start + FRAME_PREFIX;
  if (!hasAscii(bytes, i, SEQ_KEY) || (i = digits(bytes, i + SEQ_KEY.length, end)) < 0) return decodeAnyLayout(bytes, start, end, env, undefined, 0) ?? env;
  const seq = scratch;
  if (!hasAscii(bytes, i, TS_KEY) || (i = digits(bytes, i + TS_KEY.length, end)) < 0) return decodeAnyLayout(bytes, start, end, env, undefined, 0) ?? env;
  const ts = scratch;
  if (!hasAscii(bytes, i, DATA_KEY)) return decodeAnyLayout(bytes, start, end, env, undefined, 0) ?? env;
  env.seq = seq;
  env.ts = ts;
  env.data = undefined;
  const dataAt = i + DATA_KEY.length;
  if (commitTail(bytes, dataAt, end)) {
    env.commit = tailCommit;
    env.synced = tailSynced;
    env.dataFrom = dataAt - start;
    env.dataTo = tailStart - start;
  } else {
    env.commit = undefined;
    env.synced = undefined;
    // Data ends before the envelope's closing brace; without one the line is not of this layout.
    if (bytes[end - 1] === 0x7d) {
      env.dataFrom = dataAt - start;
      env.dataTo = end - 1 - start;
    }
  }
  return envelopeError(env) ?? env;
}

/**
 * decodeMarks for the line every scan meets a million times: laid out as this library writes it,
 * with valid seq and ts, and a valid commit mark or none. Fills `env` and returns true only where
 * the general code below would decode the line the same way; anything else (another layout, a
 * value out of range, a commit mark of another form) returns false and is left to that code, which
 * also says what is wrong. The keys are compared byte by byte in line and the numbers parsed into
 * locals: written with the general helpers, this took twice as long, and it is the largest share of
 * a compaction's time per line.
 */
function decodeCommonMarks(b: Uint8Array, start: number, end: number, env: Envelope): boolean {
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
  const dataAt = i + 8;
  const closed = b[end - 1] === 0x7d;
  let dataEnd = end - 1;
  let commit: number | undefined;
  let synced: number | undefined;
  const last = b[end - 2]!;
  if (closed && last >= 0x30 && last <= 0x39) {
    // A commit mark, `,"commit":K,"synced":S}`, read from the end as commitTail reads it. Every
    // line of a batch of one has one: the general code's helpers took a tenth of such a replay.
    let k = end - 1;
    while (k > dataAt && end - 1 - k < 16 && b[k - 1]! >= 0x30 && b[k - 1]! <= 0x39) k--;
    synced = intAt(b, k, end - 1);
    k -= 10;
    // ,"synced":
    if (synced < 0 || k < dataAt || b[k] !== 0x2c || b[k + 1] !== 0x22 || b[k + 2] !== 0x73 || b[k + 3] !== 0x79 || b[k + 4] !== 0x6e || b[k + 5] !== 0x63
      || b[k + 6] !== 0x65 || b[k + 7] !== 0x64 || b[k + 8] !== 0x22 || b[k + 9] !== 0x3a) return false;
    let m = k;
    while (m > dataAt && k - m < 16 && b[m - 1]! >= 0x30 && b[m - 1]! <= 0x39) m--;
    commit = intAt(b, m, k);
    m -= 10;
    // ,"commit":
    if (commit < 1 || m < dataAt || b[m] !== 0x2c || b[m + 1] !== 0x22 || b[m + 2] !== 0x63 || b[m + 3] !== 0x6f || b[m + 4] !== 0x6d || b[m + 5] !== 0x6d
      || b[m + 6] !== 0x69 || b[m + 7] !== 0x74 || b[m + 8] !== 0x22 || b[m + 9] !== 0x3a) return false;
    dataEnd = m;
  }
  env.seq = seq;
  env.ts = ts;
  env.data = undefined;
  env.commit = commit;
  env.synced = synced;
  // Data ends before the commit mark or the envelope's closing brace; without one the line is not of this layout.
  env.dataFrom = closed ? dataAt - start : -1;
  env.dataTo = closed ? dataEnd - start : -1;
  return true;
}

/** The JSON integer that is exactly `b[from, to)` (no leading zero), if a double holds it exactly; else -1. */
function intAt(b: Uint8Array, from: number, to: number): number {
  if (from === to || (to - from > 1 && b[from] === 0x30)) return -1;
  let v = 0;
  for (let k = from; k < to; k++) v = v * 10 + (b[k]! - 0x30);
  return v <= Number.MAX_SAFE_INTEGER ? v : -1;
}

/**
 * A seal, `{"seal":E}` exactly (no other layout is one): decoded as a commit of no records whose
 * synced is E. Whether E is the line's own offset is for the scanner to check.
 */
function decodeSeal(b: Uint8Array, start: number, end: number, env: Envelope): boolean {
  const i = start + FRAME_PREFIX;
  if (!hasAscii(b, i, SEAL_KEY) || b[end - 1] !== 0x7d || digits(b, i + SEAL_KEY.length, end) !== end - 1) return false;
  env.seq = 0;
  env.ts = 0;
  env.data = undefined;
  env.commit = 0;
  env.synced = scratch;
  return true;
}

const SEAL_KEY = Buffer.from('{"seal":');
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

/** Why the envelope's fields are not those of a record, or null when they are. */
function envelopeError(e: Envelope): string | null {
  if (!isSeq(e.seq) || !isCount(e.ts)) return 'not a record envelope';
  if (e.commit !== undefined && (!isSeq(e.commit) || !isCount(e.synced))) return 'malformed commit mark';
  return null;
}
