/**
 * The frame every line has, `crc SP json LF`: writing it, checking one line, and checking a run of
 * lines with one native CRC (docs/format.md §1 and §5).
 */
import { crc32, crc32Feed1Register, crc32Feed8Register, crc32Native, crc32SkipRegister } from './crc.js';
import { FRAME_PREFIX } from './limits.js';

export const SP = 0x20;
export const LF = 0x0a;

/** Why a line is damaged when it is plain JSON without a frame: another tool appended it. */
export const UNFRAMED_JSON = 'JSON without a checksum frame';

/** Frames one JSON text (no raw LF in it) as a line. */
export function frameJson(json: string): Buffer {
  const buf = Buffer.from(`00000000 ${json}\n`, 'utf8');
  writeCrc(buf, 0, buf.length - 1);
  return buf;
}

/**
 * Decodes a framed line that is not a record (a header, a consumer position): the parsed JSON, or
 * the reason the frame is damaged.
 */
export function decodeFrame(line: Uint8Array): { value: unknown } | string {
  const bad = frameError(line, 0, line.length);
  if (bad !== null) return bad;
  try {
    return { value: JSON.parse(jsonText(line, 0, line.length)) };
  } catch {
    return 'invalid JSON';
  }
}

/** The JSON of the line `bytes[start, end)` as a string. */
export function jsonText(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start + FRAME_PREFIX, end - start - FRAME_PREFIX).toString('utf8');
}

/** Whether the line starts like a frame: 8 lowercase hex digits and a space. */
export function hasFramePrefix(bytes: Uint8Array, start: number, end: number): boolean {
  return end - start >= FRAME_PREFIX && parseHex(bytes, start) >= 0 && bytes[start + 8] === SP;
}

/** Why the frame of `bytes[start, end)` is not intact, or null when its checksum holds. */
export function frameError(bytes: Uint8Array, start: number, end: number): string | null {
  if (end - start < FRAME_PREFIX + 2) return end === start ? 'empty line' : !hasFramePrefix(bytes, start, end) && isJson(bytes, start, end) ? UNFRAMED_JSON : 'line too short';
  const want = parseHex(bytes, start);
  if (want < 0 || bytes[start + 8] !== SP) return isJson(bytes, start, end) ? UNFRAMED_JSON : 'no checksum frame';
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

/** Whether `bytes[start, end)` is a JSON text (checked only for lines already found damaged). */
function isJson(bytes: Uint8Array, start: number, end: number): boolean {
  try {
    JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** Writes the checksum of the JSON in `buf[lineStart + 9, lf)` over the 8 placeholder digits at lineStart. */
export function writeCrc(buf: Buffer, lineStart: number, lf: number): void {
  let crc = crc32(buf, lineStart + FRAME_PREFIX, lf);
  for (let i = lineStart + 7; i >= lineStart; i--) {
    buf[i] = HEX[crc & 15]!;
    crc >>>= 4;
  }
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
