/**
 * CRC-32 (IEEE 802.3, zlib's polynomial) of a range of bytes, by whichever implementation is faster
 * for its size, and the shift arithmetic that checks a run of lines with one CRC (docs/design.md).
 */
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';

type WholeCrc = (bytes: Uint8Array) => number;
const zlibCrc32 = (zlib as { crc32?: WholeCrc }).crc32;

let crcPackage: typeof import('crc-32') | null = null;
/**
 * The crc-32 package's CRC of a whole buffer, unsigned as zlib's is. Loaded at first use: a Node
 * with zlib.crc32 (20.15, 22.2 and later) needs it only as a second opinion, and a short command should
 * not pay for parsing it.
 */
export const crc32Portable: WholeCrc = (bytes) => (crcPackage ??= createRequire(import.meta.url)('crc-32') as typeof import('crc-32')).buf(bytes) >>> 0;

/** The CRC for long inputs: native where this Node has it. */
const wholeCrc: WholeCrc = zlibCrc32 ?? crc32Portable;

/** Inputs shorter than this many bytes go to the table-driven implementation. */
export const CRC_NATIVE_THRESHOLD = 384;

/** The reflected generator polynomial (x^32 + x^26 + ... + 1 with bit 31 standing for x^0). */
const POLY = 0xedb88320;

/**
 * Slicing-by-8 tables: T[k * 256 + b] is the CRC register after byte b followed by k zero bytes.
 * Slicing by 16 was faster but was not kept (docs/benchmarks.md, "CRC-32 implementation by size").
 */
const T = new Int32Array(8 * 256);
for (let b = 0; b < 256; b++) {
  let c = b;
  for (let bit = 0; bit < 8; bit++) c = c & 1 ? POLY ^ (c >>> 1) : c >>> 1;
  T[b] = c;
}
for (let k = 1; k < 8; k++) {
  for (let b = 0; b < 256; b++) {
    const prev = T[(k - 1) * 256 + b]!;
    T[k * 256 + b] = (prev >>> 8) ^ T[prev & 0xff]!;
  }
}

/** The register after the 8 bytes at `bytes[at]` are fed to register `reg`: one step of the table loop. */
export function crc32Feed8Register(reg: number, bytes: Uint8Array, at: number): number {
  const a = reg ^ (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24));
  return T[1792 + (a & 0xff)]! ^ T[1536 + ((a >>> 8) & 0xff)]! ^ T[1280 + ((a >>> 16) & 0xff)]! ^ T[1024 + (a >>> 24)]!
    ^ T[768 + bytes[at + 4]!]! ^ T[512 + bytes[at + 5]!]! ^ T[256 + bytes[at + 6]!]! ^ T[bytes[at + 7]!]!;
}

/** The register after the byte `byte` is fed to register `reg`. */
export function crc32Feed1Register(reg: number, byte: number): number {
  return (reg >>> 8) ^ T[(reg ^ byte) & 0xff]!;
}

/** Unsigned CRC-32 of `bytes[start, end)`. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return end - start < CRC_NATIVE_THRESHOLD ? crc32Table(bytes, start, end) : crc32Native(bytes, start, end);
}

/** The table-driven CRC of `bytes[start, end)`, eight bytes per step. */
export function crc32Table(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = -1;
  let i = start;
  for (const last = end - 8; i <= last; i += 8) c = crc32Feed8Register(c, bytes, i);
  for (; i < end; i++) c = crc32Feed1Register(c, bytes[i]!);
  return ~c >>> 0;
}

/** The long-input CRC of `bytes[start, end)`, through a view when the range is not the whole buffer. */
export function crc32Native(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return wholeCrc(start === 0 && end === bytes.length ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start));
}

/**
 * Checking many lines with one native call.
 *
 * CRC-32 is linear over GF(2), so the register after a message can be advanced past a span of
 * bytes whose CRC is known without reading them: feeding n bytes to register r gives
 * S_n(r) xor U, where S_n (n zero bytes fed to r) is linear in r and U depends only on the bytes.
 * When the bytes' CRC is c, U = ~c xor S_n(~0), so the register becomes S_n(~r) xor ~c.
 *
 * A scan can therefore compute, from each line's stated checksum alone, what the CRC of a whole run
 * of lines must be if every line is intact, and compare it with one zlib.crc32 call over the run. The
 * difference between the two is the sum over the damaged lines of each one's own error, shifted by
 * where it lies: one damaged line always shows (a shift is invertible), and several cancel only by
 * the same 2^-32 chance by which a single damaged line could keep its checksum. A run that does not
 * add up is checked line by line, which finds the damaged lines as before.
 */

/** a(x) * b(x) mod POLY, both in reflected bit order. */
function mulModPoly(a: number, b: number): number {
  let product = 0;
  for (let bit = 31; bit >= 0; bit--) {
    // Bit `bit` of a is the coefficient of x^(31 - bit); b holds the original b times x^(31 - bit).
    if ((a >>> bit) & 1) product ^= b;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return product >>> 0;
}

/** x^(8n) mod POLY: the operator that feeds n zero bytes to a register. */
function zeroBytesOperator(n: number): number {
  let result = 0x80000000; // x^0
  let square = 0x00800000; // x^8
  for (let k = n; k > 0; k = Math.floor(k / 2)) {
    if (k % 2 === 1) result = mulModPoly(result, square);
    square = mulModPoly(square, square);
  }
  return result;
}

/**
 * Table form of S_n: T[256k + v] = S_n(v << 8k), so that S_n(r) is four lookups. Lengths below
 * 64 get tables of their own and multiples of 64 below SHIFT_TABLED others, so any line shorter than
 * that shifts in two table steps; longer ones (rare, and long enough that the arithmetic is cheap
 * beside reading them) multiply directly. Tables are built when first needed.
 */
const SHIFT_TABLED = 64 * 64;
const lowShift: (Int32Array | undefined)[] = new Array(64);
const highShift: (Int32Array | undefined)[] = new Array(64);

function shiftTable(n: number): Int32Array {
  const op = zeroBytesOperator(n);
  const t = new Int32Array(1024);
  for (let k = 0; k < 4; k++) {
    for (let v = 1; v < 256; v++) {
      const low = v & -v;
      // Linear: S(v) = S(v without its lowest bit) xor S(that bit).
      t[256 * k + v] = t[256 * k + (v ^ low)]! ^ mulModPoly(op, (low << (8 * k)) >>> 0);
    }
  }
  return t;
}

function applyTable(t: Int32Array, r: number): number {
  return t[r & 0xff]! ^ t[256 + ((r >>> 8) & 0xff)]! ^ t[512 + ((r >>> 16) & 0xff)]! ^ t[768 + (r >>> 24)]!;
}

/** The register after n zero bytes are fed to register `reg` (a signed 32-bit value, like the table loop's). */
export function crc32ShiftRegister(reg: number, n: number): number {
  if (n >= SHIFT_TABLED) return mulModPoly(zeroBytesOperator(n), reg >>> 0) | 0;
  const low = n & 63;
  const high = n >>> 6;
  if (low !== 0) reg = applyTable(lowShift[low] ??= shiftTable(low), reg);
  if (high !== 0) reg = applyTable(highShift[high] ??= shiftTable(high * 64), reg);
  return reg;
}

/**
 * The register after bytes whose CRC-32 is `crc` and length `n` are fed to register `reg`: what
 * feeding them would give, without them.
 */
export function crc32SkipRegister(reg: number, crc: number, n: number): number {
  return crc32ShiftRegister(~reg, n) ^ ~crc;
}

/**
 * Whether crc32Native is zlib's, which is what makes checking runs at once pay: with the portable
 * fallback, the CRC of a run costs as much as the CRCs of its lines.
 */
export const runCrcNative: boolean = zlibCrc32 !== undefined;
