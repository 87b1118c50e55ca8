/**
 * The reads the console's API answers with. Each one seeks (by seq, by time, from the end) and
 * reads only what it returns; what must read everything streams (streams.ts). Damaged lines are
 * stepped over (docs/design.md, "The console").
 */
import fs from 'node:fs/promises';
import { readJournal, type Header, type JournalRecord } from 'jsonl-journal/read';
import type { Filter } from './filter.js';

/** A record as the page gets it: data as the JSON text stored, cut short in lists. */
export interface RecordView {
  seq: number;
  ts: number;
  offset: number;
  data: string;
  /** The length of the whole data text, when `data` is only its start. */
  fullLength?: number;
}

/** Lists show one line per record: a longer data text is cut here, and fetched whole on demand. */
const PREVIEW_CHARS = 300;

export function view(r: JournalRecord<string>, whole = false): RecordView {
  if (whole || r.data.length <= PREVIEW_CHARS) return { seq: r.seq, ts: r.ts, offset: r.offset, data: r.data };
  return { seq: r.seq, ts: r.ts, offset: r.offset, data: r.data.slice(0, PREVIEW_CHARS), fullLength: r.data.length };
}

export interface Overview {
  file: string;
  header: Header;
  bytes: number;
  /** The highest seq the journal has assigned (its header's maxSeq, or its last record's). */
  lastSeq: number;
  first: RecordView | null;
  last: RecordView | null;
}

/**
 * What the first screen shows: the header and the first record (read from the top), the last
 * record (read from the end) and the file's size. No scan, and not journalInfo, which checks the
 * tail a crash could have touched: all of a journal that was never synced.
 */
export async function overview(file: string): Promise<Overview> {
  const reader = readJournal(file, { data: 'text', corrupt: 'skip' });
  let first: RecordView | null = null;
  for await (const r of reader) {
    first = view(r);
    break;
  }
  const header = reader.header!;
  const last = await lastRecord(file);
  const { size } = await fs.stat(file);
  return { file, header, bytes: size, lastSeq: Math.max(header.maxSeq, last?.seq ?? 0), first, last };
}

/** The last intact record, read from the end (damage there is stepped over, as everywhere here). */
function lastRecord(file: string): Promise<RecordView | null> {
  return firstOf(file, { last: 1 });
}

/**
 * The overview, read again only when the file changed (another inode, size or modification time):
 * a page opened on a journal nobody is appending to gets it at once.
 */
export function overviews(file: string): () => Promise<Overview> {
  let last: { key: string; value: Promise<Overview> } | null = null;
  return async () => {
    const st = await fs.stat(file).catch(() => null);
    // Gone, or not to be looked at: the reads say why, as the journal's own error.
    if (st === null) return overview(file);
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (last?.key !== key) {
      const value = overview(file);
      last = { key, value };
      // A failure is not kept: the next page asks again.
      value.catch(() => {
        if (last?.value === value) last = null;
      });
    }
    return last.value;
  };
}

async function firstOf(file: string, opts: Parameters<typeof readJournal>[1]): Promise<RecordView | null> {
  for await (const r of readJournal(file, { ...opts, data: 'text', corrupt: 'skip' })) return view(r);
  return null;
}

/** Up to `limit` records from seq `from` on, or those appended in [fromTs, untilTs]. */
export async function records(file: string, q: { from?: number; fromTs?: number; untilTs?: number; limit: number }): Promise<RecordView[]> {
  const out: RecordView[] = [];
  const opts = {
    data: 'text' as const, corrupt: 'skip' as const,
    ...(q.from !== undefined ? { fromSeq: q.from } : {}),
    ...(q.fromTs !== undefined ? { fromTs: q.fromTs } : {}),
    ...(q.untilTs !== undefined ? { untilTs: q.untilTs } : {}),
  };
  for await (const r of readJournal(file, opts)) {
    out.push(view(r));
    if (out.length >= q.limit) break;
  }
  return out;
}

/** The record with seq `seq`, whole, or null if the journal does not hold it. */
export async function record(file: string, seq: number): Promise<RecordView | null> {
  for await (const r of readJournal(file, { fromSeq: seq, data: 'text', corrupt: 'skip' })) return r.seq === seq ? view(r, true) : null;
  return null;
}

/** The first record appended at or after `ts` (by bisection), or null if none is. */
export async function atTime(file: string, ts: number): Promise<RecordView | null> {
  return firstOf(file, { fromTs: ts });
}

/**
 * Where a damaged line at byte `offset` lies among the records: the first intact record after it,
 * found by bisection over seqs (each probe a seek), or null when none follows it.
 */
export async function after(file: string, offset: number): Promise<RecordView | null> {
  const last = await lastRecord(file);
  if (last === null || last.offset <= offset) return null;
  let lo = 1;
  let hi = last.seq;
  let found = last;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const r = await firstOf(file, { fromSeq: mid });
    if (r !== null && r.offset > offset) {
      found = r;
      hi = Math.min(mid, r.seq);
    } else {
      lo = r === null ? mid + 1 : r.seq + 1;
    }
  }
  return found;
}

export interface SearchResult {
  records: RecordView[];
  /** The seq to go on from. */
  next: number;
  /** The end of the journal was reached. */
  done: boolean;
}

/** A search answers within about this long, with what it found so far and where to go on. */
const SEARCH_BUDGET_MS = 250;

/** Records from seq `from` on that pass `filter`: up to `limit`, or what about 250 ms of reading finds. */
export async function search(file: string, from: number, filter: NonNullable<Filter>, limit: number): Promise<SearchResult> {
  const out: RecordView[] = [];
  const t0 = performance.now();
  let next = from;
  let n = 0;
  for await (const r of readJournal(file, { fromSeq: from, data: 'text', corrupt: 'skip' })) {
    next = r.seq + 1;
    if (filter(r.data)) out.push(view(r));
    if (out.length >= limit || ((++n & 0xff) === 0 && performance.now() - t0 > SEARCH_BUDGET_MS)) return { records: out, next, done: false };
  }
  return { records: out, next, done: true };
}
