/**
 * CRC-32 (IEEE 802.3, the polynomial zlib uses) over bytes, by whichever implementation is faster
 * for the size at hand. zlib.crc32 (native) has a per-call cost that dominates short inputs, where
 * the table-driven crc-32 package wins; on long inputs the native one is several times faster.
 * The crossover was measured with `npm run bench -- crc` (see docs/benchmarks.md).
 */
import { crc32 as zlibCrc32 } from 'node:zlib';
import CRC32 from 'crc-32';

/** Inputs shorter than this many bytes go to the table-driven implementation. */
export const CRC_NATIVE_THRESHOLD = 384;

/** Unsigned CRC-32 of `bytes[start, end)`. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  // A plain Uint8Array view: cheaper to make than Buffer#subarray, and this runs once per line.
  const view = start === 0 && end === bytes.length ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
  if (end - start < CRC_NATIVE_THRESHOLD) return CRC32.buf(view) >>> 0;
  return zlibCrc32(view);
}

/** Both implementations, for the test that proves they agree and the bench that picks the threshold. */
export const crc32Table = (bytes: Uint8Array): number => CRC32.buf(bytes) >>> 0;
export const crc32Native = (bytes: Uint8Array): number => zlibCrc32(bytes);
