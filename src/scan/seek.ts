/**
 * Finding where to start reading for a given seq or time without scanning from the top: seqs (and,
 * in version 2, timestamps) rise through the file, so the byte range is bisected, O(log n) probes
 * of one small read each.
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
export function seekSeq(fd: number, from: number, size: number, target: number, maxLineBytes: number): Promise<number> {
  return seekBy(fd, from, size, (env) => env.seq < target, maxLineBytes);
}

/**
 * seekSeq for the first record with ts >= `target`: timestamps never go back in a version 2
 * journal (format.md §3), so the same bisection finds it.
 */
export function seekTs(fd: number, from: number, size: number, target: number, maxLineBytes: number): Promise<number> {
  return seekBy(fd, from, size, (env) => env.ts < target, maxLineBytes);
}

/** Bisects `[from, size)` for the first record for which `before` is false; `before` must hold for a prefix of the records. */
async function seekBy(fd: number, from: number, size: number, before: (env: Envelope) => boolean, maxLineBytes: number): Promise<number> {
  let lo = from;
  let hi = size;
  while (hi - lo > LINEAR_SPAN) {
    const mid = lo + Math.floor((hi - lo) / 2);
    // A record, not a seal: a seal's seq and ts (0) say nothing of the records around it.
    const p = await findLine(fd, mid, hi, maxLineBytes * 2, (env) => env.commit !== 0);
    if (p !== null && before(p.env)) lo = p.start;
    else hi = mid;
  }
  return lo;
}

/**
 * The first intact record line for which `accept` holds, among those that start after the first LF
 * at or after `at` and end below `hi`: where it starts, where it ends (after its LF), its seq. It
 * reads a window from `at`, doubled until it holds such a line, reaches `hi`, or passes `maxWindow`.
 */
export async function findLine(
  fd: number, at: number, hi: number, maxWindow: number, accept: (env: Envelope) => boolean,
): Promise<{ start: number; end: number; seq: number; env: Envelope } | null> {
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
      if (typeof d !== 'string' && accept(d)) return { start: at + start, end: at + lf + 1, seq: d.seq, env: d };
      i = lf;
    }
    // No such line in the window: widen it, unless it already reaches `hi` or its limit.
    if (n < len || len >= hi - at || want >= maxWindow) return null;
  }
}
