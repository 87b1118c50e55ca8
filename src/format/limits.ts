/** The format's sizes and number ranges, in one place (docs/format.md §1–§3). */

/** Bytes of `crc SP` before the JSON of every line. */
export const FRAME_PREFIX = 9;

/** Longest line a reader accepts by default: the writers' default record limit plus a margin. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024 + 1024;

/** Largest line a writer lets one record take by default, framing and commit mark included. */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/** A first line longer than this is not a journal header. */
export const MAX_HEADER_BYTES = 64 * 1024;

/** A seq: a positive integer that a double holds exactly. */
export function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

/** A count, an offset or a time: a non-negative integer that a double holds exactly. */
export function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
