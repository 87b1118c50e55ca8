/**
 * Seals (format version 2, docs/format.md §5): a line `{"seal":E}` at offset E, written once every
 * byte before E was durable, and what a damaged seal at the very end of a file still proves.
 */
import { frameJson, LF } from './frame.js';

/** Bytes a sector holds: the unit a crash writes or loses (512 divides every sector size). */
const SECTOR = 512;

/** The seal line for offset `at`. */
export function encodeSeal(at: number): Buffer {
  return frameJson(`{"seal":${at}}`);
}

/** Bytes of the seal line for offset `at`: `crc SP {"seal":` digits `}` LF. */
export function sealLength(at: number): number {
  return 19 + String(at).length;
}

/** The most bytes of a file's end that sealAtEnd looks at: the longest seal and the byte before it. */
export const SEAL_TAIL_BYTES = 19 + 16 + 1;

export interface EndSeal {
  /** Where the seal starts: every byte before it was durable when it was written. */
  at: number;
  /** One byte of the seal differs from what a seal there must be. */
  damaged: boolean;
  /** The seal is intact but the byte before it is not the LF that ends a line. */
  brokenLineEnd: boolean;
}

/**
 * A crash that loses or garbles a sector changes every byte of a seal in it, but for those that
 * garbage happens to match: with more than this many seal bytes in the sector, too few to matter.
 */
const FEW = 4;

/**
 * Whether the file, whose last bytes are `tail` (ending at offset `eof`), ends with a seal that a
 * writer wrote, although it did not read as one: intact but not at the start of a line, or with
 * one byte changed. A crash leaves a prefix of a write, zeros, or whole sectors of other bytes, so
 * it cannot change just one byte of a complete seal, unless the seal has few bytes in that byte's
 * sector; that case is left to be a torn tail.
 */
export function sealAtEnd(tail: Uint8Array, eof: number): EndSeal | null {
  for (let digits = 1; digits <= 16; digits++) {
    const at = eof - 19 - digits;
    if (at < 0 || String(at).length !== digits) continue;
    const len = eof - at;
    if (tail.length < len + 1) continue;
    const want = encodeSeal(at);
    const base = tail.length - len;
    let diffs = 0;
    let where = -1;
    for (let i = 0; i < len && diffs < 2; i++) {
      if (tail[base + i] !== want[i]) {
        diffs++;
        where = at + i;
      }
    }
    const lineEnd = tail[base - 1] === LF;
    if (diffs === 0) return { at, damaged: false, brokenLineEnd: !lineEnd };
    if (diffs > 1 || !lineEnd) continue;
    const sector = where - (where % SECTOR);
    const inSector = Math.min(eof, sector + SECTOR) - Math.max(at, sector);
    if (inSector > FEW) return { at, damaged: true, brokenLineEnd: false };
  }
  return null;
}
