/**
 * Finding where to start reading for a given seq without scanning from the top: seqs rise through
 * the file, so the byte range is bisected, O(log n) probes of one small read each.
 */
import { decodeMarks, type Envelope } from '../format/envelope.js';
import { LF } from '../format/frame.js';
import { io } from '../fs/io.js';

const PROBE_BYTES = 64 * 1024;
/** Below this span, reading through is cheaper than probing again. */
const LINEAR_SPAN = 64 * 1024;

/**
 * A line start at or before the first record with seq >= `target` in `[from, size)`. Every record
 * before the returned offset has a lower seq; the caller reads on from there, dropping the few
 * records below `target`.
 */
export async function seekSeq(fd: number, from: number, size: number, target: number, maxLineBytes: number): Promise<number> {
  let lo = from;
  let hi = size;
  while (hi - lo > LINEAR_SPAN) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const p = await probe(fd, mid, hi, maxLineBytes);
    if (p !== null && p.seq < target) lo = p.offset;
    else hi = mid;
  }
  return lo;
}

/** The first intact record line that starts after the first LF at or after `at`, below `hi`. */
async function probe(fd: number, at: number, hi: number, maxLineBytes: number): Promise<{ offset: number; seq: number } | null> {
  const line = await findLine(fd, at, hi, maxLineBytes * 2, () => true);
  return line === null ? null : { offset: line.start, seq: line.seq };
}

/**
 * The first intact record line for which `accept` holds, among those that start after the first LF
 * at or after `at` and end below `hi`: where it starts, where it ends (after its LF), its seq. It
 * reads a window from `at`, doubled until it holds such a line, reaches `hi`, or passes `maxWindow`.
 */
export async function findLine(
  fd: number, at: number, hi: number, maxWindow: number, accept: (env: Envelope) => boolean,
): Promise<{ start: number; end: number; seq: number } | null> {
  for (let want = PROBE_BYTES; ; want *= 2) {
    const len = Math.min(want, hi - at);
    if (len <= 0) return null;
    const buf = Buffer.allocUnsafe(len);
    const n = await io.read(fd, buf, 0, len, at);
    const got = buf.subarray(0, n);
    for (let i = got.indexOf(LF); i >= 0;) {
      const start = i + 1;
      const lf = got.indexOf(LF, start);
      if (lf < 0) break;
      const d = decodeMarks(got, start, lf);
      if (typeof d !== 'string' && accept(d)) return { start: at + start, end: at + lf + 1, seq: d.seq };
      i = lf;
    }
    // No such line in the window: widen it, unless it already reaches `hi` or its limit.
    if (n < len || len >= hi - at || want >= maxWindow) return null;
  }
}
