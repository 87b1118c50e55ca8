/**
 * The console's Server-Sent Events: verify and the time chart's count, which report as they read a
 * whole journal, and the live tail, from `follow`. Each stops reading when its page goes away.
 */
import fs from 'node:fs/promises';
import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { follow, verify } from 'jsonl-journal/read';
import { failureOf } from './failure.js';
import type { Filter } from './filter.js';
import { binsFor, countByTime } from './histogram.js';
import { atTime, overview, view, type RecordView } from './queries.js';

/** The page lists this many damaged lines at most; the count says how many there are. */
const MAX_DAMAGE_LISTED = 1000;
/** Progress is sent at most this often. */
const PROGRESS_MS = 100;

const send = (s: SSEStreamingApi, event: string, data: unknown) => s.writeSSE({ event, data: JSON.stringify(data) });

/**
 * Runs `work` with a signal that aborts when the page closes the stream. A failure is an event
 * named `failure`, with the code and message the page shows: the browser's own `error` event means
 * a lost connection.
 */
function events(c: Context, work: (s: SSEStreamingApi, signal: AbortSignal) => Promise<void>): Response {
  return streamSSE(c, async (s) => {
    const ac = new AbortController();
    s.onAbort(() => ac.abort());
    try {
      await work(s, ac.signal);
    } catch (err) {
      if (!ac.signal.aborted) await send(s, 'failure', failureOf(err).error);
    }
  });
}

/** `progress` { bytesRead, bytesTotal } as verify reads, then `done` with its report. */
export function verifyEvents(c: Context, file: string): Response {
  return events(c, async (s, signal) => {
    let last = 0;
    const report = await verify(file, {
      signal,
      onProgress: (p) => {
        const now = performance.now();
        if (now - last < PROGRESS_MS) return;
        last = now;
        void send(s, 'progress', p);
      },
    });
    const { corrupt, ...rest } = report;
    await send(s, 'done', { ...rest, damaged: corrupt.length, corrupt: corrupt.slice(0, MAX_DAMAGE_LISTED) });
  });
}

/**
 * The records per interval of [fromTs, untilTs] (by default the journal's whole life): `bins`
 * { start, width } first, then `progress` { counts, records, fraction } as the count goes, then
 * `done` with the final counts.
 */
export function histogramEvents(c: Context, file: string, range: { fromTs?: number; untilTs?: number }): Response {
  return events(c, async (s, signal) => {
    let { fromTs, untilTs } = range;
    let endOffset = (await fs.stat(file)).size;
    if (fromTs === undefined || untilTs === undefined) {
      const o = await overview(file);
      if (o.first === null || o.last === null) {
        await send(s, 'done', { start: 0, width: 1, counts: [], records: 0, fraction: 1, done: true });
        return;
      }
      fromTs ??= o.first.ts;
      untilTs ??= o.last.ts;
    } else {
      // A part of the journal's life: read up to the first record after it, not to the end.
      endOffset = (await atTime(file, untilTs + 1))?.offset ?? endOffset;
    }
    const bins = binsFor(fromTs, Math.max(fromTs, untilTs));
    await send(s, 'bins', { start: bins.start, width: bins.width, count: bins.counts.length });
    for await (const p of countByTime(file, bins, endOffset, signal)) {
      await send(s, p.done ? 'done' : 'progress', { start: bins.start, width: bins.width, ...p });
    }
  });
}

/** How often the tail sends what arrived. */
const TAIL_FLUSH_MS = 100;
/** A tail message holds at most this many records: of a burst, the page sees the newest. */
const TAIL_MAX_RECORDS = 200;
/** A comment this often, so that a dead connection is noticed even when nothing is appended. */
const KEEPALIVE_MS = 15_000;

/**
 * The live tail: every record from seq `from` on as any process appends it, through compactions.
 * Each `records` event says the highest seq seen (`lastSeq`), and holds the newest records that
 * pass the filter, up to 200; `skipped` counts those left out of a burst.
 */
export function tailEvents(c: Context, file: string, from: number, filter: Filter): Response {
  return events(c, async (s, signal) => {
    let pending: RecordView[] = [];
    let skipped = 0;
    let lastSeq = 0;
    let sentSeq = 0;
    // A page that reads slowly gets fewer, fuller messages: nothing queues up behind a send.
    let sending: Promise<void> | null = null;
    const flush = () => {
      if (lastSeq === sentSeq || sending !== null) return;
      const msg = { lastSeq, records: pending, skipped };
      sentSeq = lastSeq;
      pending = [];
      skipped = 0;
      sending = send(s, 'records', msg).finally(() => (sending = null));
    };
    const flusher = setInterval(flush, TAIL_FLUSH_MS);
    const keepalive = setInterval(() => void s.write(': keepalive\n\n'), KEEPALIVE_MS);
    try {
      await send(s, 'ready', { from });
      for await (const r of follow<string>(file, { fromSeq: from, data: 'text', onPositionGone: 'oldest', signal })) {
        lastSeq = r.seq;
        if (filter !== null && !filter(r.data)) continue;
        if (pending.length === TAIL_MAX_RECORDS) {
          pending.shift();
          skipped++;
        }
        pending.push(view(r));
      }
    } finally {
      clearInterval(flusher);
      clearInterval(keepalive);
      await sending;
    }
  });
}
