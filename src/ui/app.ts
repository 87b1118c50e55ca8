/**
 * The console's routes: the page's files, a read-only JSON API and its event streams, all behind
 * the guard. Every route is a GET; none writes. The API serves this page only: it is not a stable
 * interface.
 */
import { Hono, type Context } from 'hono';
import { listConsumers, type ConsumerInfo } from 'jsonl-journal';
import { Assets } from './assets.js';
import { BadRequest, failureOf } from './failure.js';
import { filterOf } from './filter.js';
import { guard, type GuardOptions } from './guard.js';
import { after, atTime, record, records, search, type Overview } from './queries.js';
import { histogramEvents, tailEvents, verifyEvents } from './streams.js';

/** Records per list request at most. */
const MAX_PAGE = 500;

export function consoleApp(file: string, access: GuardOptions, overview: () => Promise<Overview>): Hono {
  const app = new Hono();
  const assets = new Assets();
  app.use('*', guard(access));

  app.get('/api/overview', async (c) => c.json(await overview()));
  app.get('/api/records', async (c) => {
    const q = query(c);
    const limit = int(q, 'limit', { min: 1, max: MAX_PAGE }) ?? 100;
    const fromTs = int(q, 'fromTs', {});
    const untilTs = int(q, 'untilTs', {});
    const from = int(q, 'from', { min: 1 });
    return c.json(await records(file, { limit, ...(from !== undefined ? { from } : {}), ...(fromTs !== undefined ? { fromTs } : {}), ...(untilTs !== undefined ? { untilTs } : {}) }));
  });
  app.get('/api/record', async (c) => c.json(await record(file, need(int(query(c), 'seq', { min: 1 }), 'seq'))));
  app.get('/api/at', async (c) => c.json(await atTime(file, need(int(query(c), 'ts', {}), 'ts'))));
  app.get('/api/after', async (c) => c.json(await after(file, need(int(query(c), 'offset', { min: 0 }), 'offset'))));
  app.get('/api/search', async (c) => {
    const q = query(c);
    const filter = filterOf(q);
    if (filter === null) throw new BadRequest('a search needs path and value, or text');
    return c.json(await search(file, int(q, 'from', { min: 1 }) ?? 1, filter, int(q, 'limit', { min: 1, max: MAX_PAGE }) ?? 100));
  });
  // A listing reads the positions log and the journal's tail (all of it, in a journal never
  // synced): the pages that ask meanwhile share the one under way.
  let listing: Promise<{ now: number; consumers: ConsumerInfo[] }> | null = null;
  app.get('/api/consumers', async (c) => {
    listing ??= listConsumers(file).then((consumers) => ({ now: Date.now(), consumers })).finally(() => (listing = null));
    return c.json(await listing);
  });

  app.get('/api/verify', (c) => verifyEvents(c, file));
  app.get('/api/histogram', (c) => {
    const q = query(c);
    const fromTs = int(q, 'fromTs', {});
    const untilTs = int(q, 'untilTs', {});
    if ((fromTs === undefined) !== (untilTs === undefined)) throw new BadRequest('give both fromTs and untilTs, or neither');
    if (fromTs !== undefined && untilTs! < fromTs) throw new BadRequest('untilTs is before fromTs');
    return histogramEvents(c, file, { ...(fromTs !== undefined ? { fromTs, untilTs: untilTs! } : {}) });
  });
  app.get('/api/tail', (c) => {
    const q = query(c);
    return tailEvents(c, file, need(int(q, 'from', { min: 1 }), 'from'), filterOf(q));
  });

  app.get('*', async (c) => {
    const a = await assets.get(c.req.path);
    if (a === null) return c.text('Not found\n', 404);
    return c.body(new Uint8Array(a.body), 200, { 'content-type': a.type });
  });
  app.onError((err, c) => {
    const f = failureOf(err);
    return c.json({ error: f.error }, f.status);
  });
  return app;
}

const query = (c: Context): URLSearchParams => new URL(c.req.url).searchParams;

/** An integer parameter within bounds, or undefined when it is absent. */
function int(q: URLSearchParams, name: string, { min, max }: { min?: number; max?: number }): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
    throw new BadRequest(`${name} must be an integer${min !== undefined ? ` of at least ${min}` : ''}${max !== undefined ? ` and at most ${max}` : ''}, not ${JSON.stringify(v)}`);
  }
  return n;
}

function need<T>(v: T | undefined, name: string): T {
  if (v === undefined) throw new BadRequest(`missing ${name}`);
  return v;
}
