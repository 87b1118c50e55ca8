/**
 * Records per interval of time, for the console's time chart: the intervals (round widths, aligned
 * to the epoch), and a streaming count over a time range that reports as it goes, so that the
 * chart fills in while a large journal is read.
 */
import { readJournal } from 'jsonl-journal/read';

export interface Bins {
  /** ms since the epoch where the first interval starts. */
  start: number;
  /** ms per interval. */
  width: number;
  counts: number[];
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Widths a person reads at a glance, from a millisecond to a year. */
const WIDTHS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 365 * DAY,
];
/** More bars than this are thinner than a pixel or two on a screen. */
export const MAX_BINS = 240;

/** The narrowest round width that covers [fromTs, untilTs] in at most `max` intervals. */
export function binsFor(fromTs: number, untilTs: number, max = MAX_BINS): Bins {
  const span = (w: number) => Math.floor(untilTs / w) - Math.floor(fromTs / w) + 1;
  const width = WIDTHS.find((w) => span(w) <= max) ?? Math.ceil((untilTs - fromTs + 1) / max / (365 * DAY)) * 365 * DAY;
  return { start: Math.floor(fromTs / width) * width, width, counts: new Array<number>(span(width)).fill(0) };
}

export interface CountProgress {
  counts: number[];
  records: number;
  /** How much of the range's bytes has been read, 0 to 1. */
  fraction: number;
  done: boolean;
}

/** How often a count in progress reports. */
const REPORT_MS = 200;

/**
 * Counts the records of each interval of `bins`, reading only the time range they cover (found by
 * bisection) up to `endOffset` at most, and yields the counts so far every 200 ms, then once done.
 * Damaged lines are stepped over: the chart shows what can be read.
 */
export async function* countByTime(file: string, bins: Bins, endOffset: number, signal: AbortSignal): AsyncGenerator<CountProgress> {
  const { start, width, counts } = bins;
  const untilTs = start + width * counts.length - 1;
  let records = 0;
  let first = -1;
  let fraction = 0;
  let last = performance.now();
  for await (const r of readJournal(file, { fromTs: start, untilTs, data: 'text', corrupt: 'skip', signal })) {
    if (r.offset >= endOffset) break;
    counts[Math.floor((r.ts - start) / width)]!++;
    records++;
    if (first < 0) first = r.offset;
    // Checking the clock costs more than counting: look at it every 4096 records.
    if ((records & 0xfff) === 0 && performance.now() - last >= REPORT_MS) {
      last = performance.now();
      fraction = endOffset > first ? (r.offset - first) / (endOffset - first) : 1;
      yield { counts, records, fraction, done: false };
    }
  }
  yield { counts, records, fraction: 1, done: true };
}
