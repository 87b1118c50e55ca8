/**
 * CRC-32 (IEEE 802.3, the polynomial zlib uses) over a range of bytes, by whichever implementation
 * is faster for the size at hand. zlib.crc32 (native) has a per-call cost that dominates short
 * inputs, where a table-driven loop in JavaScript wins; on long inputs the native one is several
 * times faster. The crossover was measured with `npm run bench -- crc` (see docs/benchmarks.md).
 *
 * The table-driven loop is this module's own rather than a package's because it must read a range
 * of a larger buffer in place: the reader checks every line of a chunk, and a view object per line
 * (which a function taking a whole buffer needs) was a measurable share of replay time, most of it
 * in the garbage collector.
 *
 * zlib.crc32 arrived in Node 20.15; on earlier Node 20 releases long inputs go to the crc-32
 * package instead (slicing by 16 in JavaScript), so the journal runs on every Node the package
 * allows. The namespace import is deliberate: a named import of a missing export would fail to link.
 */
import * as zlib from 'node:zlib';
import CRC32 from 'crc-32';

type WholeCrc = (bytes: Uint8Array) => number;
const zlibCrc32 = (zlib as { crc32?: WholeCrc }).crc32;

/** The crc-32 package's CRC of a whole buffer, unsigned as zlib's is. */
export const crc32Portable: WholeCrc = (bytes) => CRC32.buf(bytes) >>> 0;

/** The CRC for long inputs: native where this Node has it. */
const wholeCrc: WholeCrc = zlibCrc32 ?? crc32Portable;

/** Inputs shorter than this many bytes go to the table-driven implementation. */
export const CRC_NATIVE_THRESHOLD = 384;

/**
 * Slicing-by-8 tables: T[k * 256 + b] is the CRC register after byte b followed by k zero bytes.
 * Slicing by 16 was faster but was not kept (docs/benchmarks.md, "CRC-32 implementation by size").
 */
const T = new Int32Array(8 * 256);
for (let b = 0; b < 256; b++) {
  let c = b;
  for (let bit = 0; bit < 8; bit++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  T[b] = c;
}
for (let k = 1; k < 8; k++) {
  for (let b = 0; b < 256; b++) {
    const prev = T[(k - 1) * 256 + b]!;
    T[k * 256 + b] = (prev >>> 8) ^ T[prev & 0xff]!;
  }
}

/** Unsigned CRC-32 of `bytes[start, end)`. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return end - start < CRC_NATIVE_THRESHOLD ? crc32Table(bytes, start, end) : crc32Native(bytes, start, end);
}

/** The table-driven CRC of `bytes[start, end)`, eight bytes per step. */
export function crc32Table(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = -1;
  let i = start;
  for (const last = end - 8; i <= last; i += 8) {
    const a = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c = T[1792 + (a & 0xff)]! ^ T[1536 + ((a >>> 8) & 0xff)]! ^ T[1280 + ((a >>> 16) & 0xff)]! ^ T[1024 + (a >>> 24)]!
      ^ T[768 + bytes[i + 4]!]! ^ T[512 + bytes[i + 5]!]! ^ T[256 + bytes[i + 6]!]! ^ T[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = (c >>> 8) ^ T[(c ^ bytes[i]!) & 0xff]!;
  return ~c >>> 0;
}

/** The long-input CRC of `bytes[start, end)`, through a view when the range is not the whole buffer. */
export function crc32Native(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return wholeCrc(start === 0 && end === bytes.length ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start));
}
