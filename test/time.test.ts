// Time as an axis: reads by time and the last N records, retention by age and by size, retention
// that runs itself, and truncation to a point.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compact, Consumer, ErrorCode, follow, Journal, readJournal, truncate, type CompactResult, type JournalRecord } from '../src/index.js';
import { parseTime } from '../src/cli/time.js';
import { acked, Child, countIo, countReads, hookIo, readAll, sleep, tmpJournal } from './helpers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = path.join(ROOT, 'dist/cli/main.js');

/** A journal of `n` records at ts 1000, 2000, ... (one ms apart apart from that), in batches of 1 to 4. */
async function timeline(n: number, file = tmpJournal()): Promise<string> {
  const j = await Journal.open(file, { durability: 'unsafe-nosync' });
  for (let i = 1; i <= n;) {
    const k = Math.min(1 + (i % 4), n - i + 1);
    await j.appendMany(Array.from({ length: k }, (_, x) => ({ i: i + x, pad: 'p'.repeat((i * 7) % 90) })), { ts: Array.from({ length: k }, (_, x) => (i + x) * 1000) });
    i += k;
  }
  await j.close();
  return file;
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const seqs = (rs: JournalRecord[]) => rs.map((r) => r.seq);

describe('reading by time', () => {
  it('fromTs and untilTs return exactly the records in range, written by 4 processes at once, one with a clock stepped back an hour', async () => {
    const file = tmpJournal();
    await (await Journal.open(file)).close();
    const writers = [0, 1, 2, 3].map((w) => new Child(w === 3 ? 'writer-clock-back.mjs' : 'writer.mjs', [file, `w${w}`, '4', '150', JSON.stringify({ pauseMs: 2 })], { CLOCK_BACK_AFTER_MS: '150' }));
    await Promise.all(writers.map((w) => w.exited));
    const all = await readAll(file);
    expect(all.length).toBe(4 * 4 * 150);
    expect(acked(writers).size).toBe(all.length);
    // Timestamps never go back in seq order, though one writer's clock did.
    const ts = all.map((r) => r.ts);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    const lo = ts[0]!;
    const hi = ts.at(-1)!;
    expect(hi - lo).toBeGreaterThan(100);
    for (const [from, until] of [[lo, hi], [lo + 50, lo + 120], [hi - 30, hi], [lo - 10_000, lo], [hi + 1, hi + 9], [lo + 77, lo + 77]]) {
      const want = seqs(all.filter((r) => r.ts >= from! && r.ts <= until!));
      expect(seqs(await readAll(file, { fromTs: from, untilTs: until })), `${from - lo}..${until - lo}`).toEqual(want);
      expect(seqs(await readAll(file, { fromTs: new Date(from!) })), `from ${from - lo}`).toEqual(seqs(all.filter((r) => r.ts >= from!)));
    }
    const r = await cli(['cat', file, '--since', String(lo + 50), '--until', String(lo + 120)]);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).seq)).toEqual(seqs(all.filter((x) => x.ts >= lo + 50 && x.ts <= lo + 120)));
  });

  it('finds the first record of a time by bisection: O(log n) reads, not a scan', async () => {
    const file = await timeline(40_000);
    const size = fs.statSync(file).size;
    expect(size).toBeGreaterThan(3_000_000);
    for (const t of [1000, 123_000, 20_000_000, 39_999_000]) {
      const reads = countIo('read');
      const it = readJournal(file, { fromTs: t });
      const first = await it.next();
      await it.return();
      expect(first.value).toMatchObject({ ts: t, seq: t / 1000 });
      // Probes of 64 KiB halve the range each; then one chunk of the scan.
      expect(reads.n, `ts ${t}`).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(size / 65536)) + 4);
    }
  });

  it('last N: the last records in seq order, read from the end: the reads do not grow with the file', async () => {
    const small = await timeline(100);
    const big = await timeline(60_000);
    const read = countReads();
    for (const file of [small, big]) {
      read.bytes = 0;
      const last = await readAll(file, { last: 5 });
      const n = file === small ? 100 : 60_000;
      expect(seqs(last)).toEqual([n - 4, n - 3, n - 2, n - 1, n]);
      expect(read.bytes, file).toBeLessThan(1024 * 1024);
    }
    expect(fs.statSync(big).size).toBeGreaterThan(5_000_000);
    // With bounds: the last of those in range.
    expect(seqs(await readAll(big, { last: 3, untilTs: 500_000 }))).toEqual([498, 499, 500]);
    expect(seqs(await readAll(small, { last: 500 }))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('last N with other bounds reads near them, not the whole file: fewer than N since a time, or an until far back', async () => {
    const file = await timeline(60_000);
    const size = fs.statSync(file).size;
    expect(size).toBeGreaterThan(5_000_000);
    const read = countReads();
    const cases: Array<[string, Parameters<typeof readAll>[1], number[]]> = [
      ['3 records since the time', { last: 5, fromTs: 59_998_000 }, [59_998, 59_999, 60_000]],
      ['none since the time', { last: 5, fromTs: 70_000_000 }, []],
      ['3 records from the seq', { last: 5, fromSeq: 59_998 }, [59_998, 59_999, 60_000]],
      ['until early in the file', { last: 3, untilTs: 500_000 }, [498, 499, 500]],
      ['until the middle', { last: 3, untilTs: 30_000_000 }, [29_998, 29_999, 30_000]],
      ['between two times', { last: 4, fromTs: 20_000_000, untilTs: 20_002_000 }, [20_000, 20_001, 20_002]],
    ];
    for (const [name, opts, want] of cases) {
      read.bytes = 0;
      expect(seqs(await readAll(file, opts)), name).toEqual(want);
      // Bisections of 64 KiB probes and a chunk or two: a small part of the file, whatever it holds.
      expect(read.bytes, name).toBeLessThan(size / 2);
      expect(read.bytes, name).toBeLessThan(4 * 1024 * 1024);
    }
  });

  it('last N of a very large N holds no more than the records it finds, and is no I/O error', async () => {
    const file = await timeline(30);
    expect(seqs(await readAll(file, { last: 2 ** 40 }))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(seqs(await readAll(file, { last: Number.MAX_SAFE_INTEGER, fromSeq: 28 }))).toEqual([28, 29, 30]);
  });

  it('follow with last N starts with the last N records, then the new ones: tail -n N -f', async () => {
    const file = await timeline(50);
    const ac = new AbortController();
    const got: number[] = [];
    const done = (async () => {
      for await (const r of follow(file, { last: 3, signal: ac.signal, pollMs: 20 })) {
        got.push(r.seq);
        if (got.length === 5) ac.abort();
      }
    })();
    await sleep(100);
    const j = await Journal.open(file);
    await j.appendMany(['x', 'y']);
    await j.close();
    await done;
    expect(got).toEqual([48, 49, 50, 51, 52]);
    const fromTs: number[] = [];
    const ac2 = new AbortController();
    for await (const r of follow(file, { fromTs: 45_000, signal: ac2.signal })) {
      fromTs.push(r.seq);
      if (r.seq === 52) ac2.abort();
    }
    expect(fromTs).toEqual([45, 46, 47, 48, 49, 50, 51, 52]);
  });

  it('journal cat --last 3 --follow prints the last three, then new records as they come', async () => {
    const file = await timeline(20);
    const c = spawn(process.execPath, [BIN, 'cat', file, '-n', '3', '-f', '--data'], { env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    for (const t0 = Date.now(); out.split('\n').length < 4; await sleep(20)) if (Date.now() - t0 > 10_000) throw new Error(`no output: ${out}`);
    const j = await Journal.open(file);
    await j.append({ i: 'new' });
    await j.close();
    for (const t0 = Date.now(); out.split('\n').length < 5; await sleep(20)) if (Date.now() - t0 > 10_000) throw new Error(`no new record: ${out}`);
    c.kill('SIGTERM');
    expect(out.trim().split('\n').map((l) => JSON.parse(l).i)).toEqual([18, 19, 20, 'new']);
  });

  it('last 0: nothing to read; with follow (journal cat -n 0 -f), only what is appended from then on, as tail -n 0 -f', async () => {
    const file = await timeline(20);
    expect(await readAll(file, { last: 0 })).toEqual([]);
    expect((await cli(['cat', file, '-n', '0'])).stdout).toBe('');
    const ac = new AbortController();
    const got: JournalRecord[] = [];
    const done = (async () => {
      for await (const r of follow(file, { last: 0, signal: ac.signal, pollMs: 20 })) {
        got.push(r);
        if (got.length === 2) ac.abort();
      }
    })();
    const c = spawn(process.execPath, [BIN, 'cat', file, '-n', '0', '-f', '--data'], { env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    // New records, one at a time, until both have printed two: however late either started, what
    // it prints are records appended after it started, one after another, none of the first 20.
    const j = await Journal.open(file);
    for (let k = 0, t0 = Date.now(); got.length < 2 || out.split('\n').length < 3; k++, await sleep(100)) {
      if (Date.now() - t0 > 20_000) throw new Error(`no new records: ${out}`);
      await j.append({ k });
    }
    await j.close();
    await done;
    c.kill('SIGTERM');
    const ks = (values: unknown[]) => values.map((v) => (v as { k?: number }).k);
    const printed = ks(out.trim().split('\n').map((l) => JSON.parse(l)));
    expect(got[0]!.seq).toBeGreaterThan(20);
    expect(got[1]!.seq).toBe(got[0]!.seq + 1);
    for (const seen of [ks(got.map((r) => r.data)), printed]) {
      expect(seen[0], JSON.stringify(seen)).toEqual(expect.any(Number));
      expect(seen).toEqual(seen.map((_, i) => seen[0]! + i));
    }
    await expect(readAll(file, { last: -1 })).rejects.toThrow(RangeError);
  });
});

describe('times on the command line', () => {
  it('a date alone is local midnight, as a date with a time and no zone is local time (not UTC, as JavaScript reads it)', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      expect(parseTime('since', '2026-12-08')).toBe(new Date(2026, 11, 8).getTime());
      expect(parseTime('since', '2026-12-08')).toBe(parseTime('since', '2026-12-08T00:00'));
      expect(parseTime('since', '2026-12-08')).toBe(Date.UTC(2026, 11, 8, 5));
      expect(parseTime('since', '2026-12-08T00:00:00Z')).toBe(Date.UTC(2026, 11, 8));
      expect(() => parseTime('since', '2026-02-30')).toThrow('--since takes a time');
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('a time ago as docker logs (10m) and journalctl (-10m, 10m ago) write it', () => {
    const now = 1_800_000_000_000;
    for (const t of ['10m', '-10m', '10m ago', ' 10m ']) expect(parseTime('since', t, now), t).toBe(now - 600_000);
    expect(parseTime('since', '1.5h', now)).toBe(now - 5_400_000);
    for (const t of ['-10m ago', '10 m', '10x', '--10m', 'yesterday']) expect(() => parseTime('since', t, now), t).toThrow('--since takes a time');
  });
});

/** Every acknowledged record from `minSeq` on is in the journal once, under its seq; none below it is. */
async function keptFrom(file: string, children: Child[]): Promise<{ minSeq: number; kept: number }> {
  const recs = await readAll(file);
  const minSeq = recs[0]?.seq ?? Number.POSITIVE_INFINITY;
  const bySeq = new Map(recs.map((r) => [r.seq, (r.data as { tag: string }).tag]));
  let kept = 0;
  for (const [tag, seq] of acked(children)) {
    if (seq < minSeq) continue;
    expect(bySeq.get(seq), `acknowledged ${tag} (seq ${seq})`).toBe(tag);
    kept++;
  }
  // Retention drops a prefix: from the first kept record on, no seq is missing.
  expect(seqs(recs)).toEqual(Array.from({ length: recs.length }, (_, i) => minSeq + i));
  return { minSeq, kept };
}

describe('retention by age and by size', () => {
  it.each([
    ['by age', (cutoff: number) => ({ beforeTs: cutoff })],
    ['by size', () => ({ maxBytes: 60_000 })],
  ] as const)('%s, with two processes appending and the compacting process SIGKILLed: nothing the policy keeps is lost', async (_name, policy) => {
    const file = tmpJournal();
    await (await Journal.open(file)).close();
    const writers = [new Child('writer.mjs', [file, 'a', '4', '400', JSON.stringify({ pauseMs: 1 })]), new Child('writer.mjs', [file, 'b', '4', '400', JSON.stringify({ pauseMs: 1 })])];
    // Records of both writers on both sides of the line, however slowly the machine starts them.
    await Promise.all(writers.map((w) => w.waitFor(() => w.lines.length >= 200)));
    const cutoff = Date.now();
    await Promise.all(writers.map((w) => w.waitFor(() => w.lines.length >= 300)));
    // A compaction killed half way through its copy: the journal stays whole.
    const killed = spawn(process.execPath, ['--input-type=module', '-e', `
      const { compact } = await import(${JSON.stringify(path.join(ROOT, 'dist/index.js'))});
      await compact(${JSON.stringify(file)}, ${JSON.stringify(policy(cutoff))});`], { env: { ...process.env, JSONL_JOURNAL_KILL_POINT: 'compact-copying:2' } });
    expect((await new Promise<{ signal: string | null }>((r) => killed.on('exit', (_c, signal) => r({ signal })))).signal).toBe('SIGKILL');
    const p = policy(cutoff);
    const before = await readAll(file);
    const r = await compact(file, { ...p, wait: true });
    await Promise.all(writers.map((w) => w.exited));
    const { minSeq, kept } = await keptFrom(file, writers);
    expect(minSeq).toBeGreaterThan(1);
    expect(r.recordsAfter).toBeLessThan(r.recordsBefore);
    expect(kept).toBeGreaterThan(0);
    // By age, the policy keeps every record appended at or after the time: the first kept is the
    // first of them (records appended since the snapshot are later still).
    if ('beforeTs' in p) expect(minSeq).toBe(before.find((x) => x.ts >= p.beforeTs)!.seq);
  });

  it('by size keeps the newest records that fit; by age, in a version 2 journal, every record from the time on', async () => {
    const file = await timeline(2000);
    const bySize = await compact(file, { maxBytes: 20_000 });
    expect(bySize.bytesAfter).toBeLessThanOrEqual(20_000);
    expect(fs.statSync(file).size).toBe(bySize.bytesAfter);
    const rest = await readAll(file);
    expect(rest.at(-1)!.seq).toBe(2000);
    // The next older record would not have fitted: the file holds every record it can.
    expect(bySize.bytesAfter + 200).toBeGreaterThan(20_000);
    const byAge = await compact(file, { beforeTs: new Date(1_950_000) });
    expect(byAge).toMatchObject({ recordsAfter: 51 });
    expect(seqs(await readAll(file))[0]).toBe(1950);
    await expect(readAll(file, { fromSeq: 1 })).resolves.toHaveLength(51);
    // Past the last record: nothing is kept, and the seqs go on.
    await compact(file, { beforeTs: 10_000_000 });
    expect(await readAll(file)).toEqual([]);
    const j = await Journal.open(file);
    expect((await j.append('next')).seq).toBe(2001);
    await j.close();
  });
});

describe('retention that runs itself', () => {
  it('writers in two processes keep the journal near its bound, one killed in its own compaction, and lose nothing the policy keeps', async () => {
    const file = tmpJournal();
    await (await Journal.open(file)).close();
    // b's bound is lower, so b compacts first: it is killed in its first compaction's copy.
    const opts = (maxBytes: number) => JSON.stringify({ pauseMs: 1, retention: { maxBytes } });
    const a = new Child('writer.mjs', [file, 'a', '4', '500', opts(80_000)]);
    const b = new Child('writer.mjs', [file, 'b', '4', '500', opts(40_000)], { JSONL_JOURNAL_KILL_POINT: 'compact-copying:1' });
    expect((await b.exited).signal).toBe('SIGKILL');
    await a.exited;
    expect(a.lines.at(-1)).toBe('done');
    const { minSeq } = await keptFrom(file, [a, b]);
    expect(minSeq).toBeGreaterThan(1);
    // Compaction starts at half as much again as the bound, and a close stops one under way: what
    // was appended during the last one may remain.
    expect(fs.statSync(file).size).toBeLessThan(3 * 80_000);
    const j = await Journal.open(file);
    expect(j.recovered).toBeNull();
    await j.close();
  });

  it('by age: a journal whose oldest record is half as old again as the bound is compacted in the background', async () => {
    // 100 records, one a second, the last just now.
    const file = tmpJournal();
    const base = Date.now() - 100_000;
    const w = await Journal.open(file);
    await w.appendMany(Array.from({ length: 100 }, (_, i) => ({ i })), { ts: Array.from({ length: 100 }, (_, i) => base + (i + 1) * 1000) });
    await w.close();
    const compacted: unknown[] = [];
    const j = await Journal.open(file, { retention: { maxAgeMs: 50_000, onCompacted: (r) => compacted.push(r) } });
    for (let t0 = Date.now(); compacted.length === 0; await sleep(20)) if (Date.now() - t0 > 10_000) throw new Error('no compaction');
    await j.append({ i: 'after' });
    await j.close();
    const recs = await readAll(file);
    expect(recs[0]!.seq).toBeGreaterThanOrEqual(50);
    expect(recs[0]!.ts).toBeGreaterThanOrEqual(Date.now() - 52_000);
    expect(recs.at(-1)).toMatchObject({ seq: 101, data: { i: 'after' } });
  });

  it('a consumer that keeps the journal past its bound does not make every batch compact it again', async () => {
    const file = tmpJournal();
    const w = await Journal.open(file);
    await w.append({ first: true });
    const c = await Consumer.open(file, 'slow');
    await c.records().next();
    await c.commit(1);
    await c.close();
    const compacted: CompactResult[] = [];
    const errors: unknown[] = [];
    const j = await Journal.open(file, { retention: { maxBytes: 20_000, onCompacted: (r) => compacted.push(r as CompactResult), onError: (e) => errors.push(e) } });
    await w.close();
    // About 250 KB in 200 batches; the consumer has read none of it, so all of it stays.
    for (let b = 0; b < 200; b++) {
      await j.appendMany(Array.from({ length: 10 }, (_, i) => ({ b, i, pad: 'p'.repeat(90) })));
      await sleep(1);
    }
    await j.close();
    expect(errors).toEqual([]);
    // Seq 1, which it has read, may go; nothing after it.
    expect(seqs(await readAll(file)).slice(-2000)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 2));
    // Each compaction waits for the journal to grow by half from what the last one left: 30 KB,
    // 45, 67, 100, 150, 225 ... not one per batch.
    expect(compacted.length).toBeGreaterThan(0);
    expect(compacted.length).toBeLessThanOrEqual(8);
    expect(compacted[0]!.consumers).toEqual([expect.objectContaining({ name: 'slow', kept: expect.any(Number), removed: 0 })]);
  });

  it('a policy without a bound is a TypeError', async () => {
    await expect(Journal.open(tmpJournal(), { retention: {} })).rejects.toThrow(TypeError);
  });
});

describe('truncating to a point', () => {
  it('to a seq: drops what follows, keeps a copy of it, and assigns the seqs after the point again; a consumer past it is DIVERGED', async () => {
    const file = await timeline(100);
    const c = await Consumer.open(file, 'reader');
    for await (const r of c.records()) {
      if (r.seq === 80) {
        await c.commit(80);
        break;
      }
    }
    await c.close();
    const before = fs.readFileSync(file);
    const all = await readAll(file);
    const r = await truncate(file, { toSeq: 60 });
    expect(r).toMatchObject({ lastSeq: 60, recordsDropped: 40, savedTo: `${file}.truncated` });
    expect(fs.readFileSync(r.savedTo!).equals(before.subarray(all[60]!.offset))).toBe(true);
    expect(seqs(await readAll(file))).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const j = await Journal.open(file);
    expect((await j.append('again')).seq).toBe(61);
    await j.close();
    const again = await Consumer.open(file, 'reader');
    await expect(again.records().next()).rejects.toMatchObject({ code: ErrorCode.DIVERGED });
    await again.close();
  });

  it('to a time: keeps the records appended up to it; a writer open meanwhile waits, then appends after the point', async () => {
    const file = await timeline(100);
    const j = await Journal.open(file);
    const r = await truncate(file, { toTs: 42_500 });
    expect(r).toMatchObject({ lastSeq: 42, recordsDropped: 58 });
    expect((await j.append('live')).seq).toBe(43);
    await j.close();
    expect((await readAll(file)).map((x) => x.ts).slice(-2)).toEqual([42_000, expect.any(Number)]);
    const cliRun = await cli(['truncate', file, '--to-seq', '500']);
    expect(cliRun.stdout).toContain('nothing after seq 43 to drop');
  });

  it('a follower and a consumer running past the point are DIVERGED, not handed the new records under seqs they passed', async () => {
    const file = await timeline(20);
    const f = follow(file, { pollMs: 20 });
    for (let s = 1; s <= 20; s++) expect((await f.next()).value.seq).toBe(s);
    const c = await Consumer.open(file, 'live');
    const records = c.records({ pollMs: 20 });
    for (let s = 1; s <= 20; s++) expect((await records.next()).value.seq).toBe(s);
    await c.commit(20);
    await truncate(file, { toSeq: 10 });
    const j = await Journal.open(file);
    await j.appendMany(Array.from({ length: 15 }, (_, i) => ({ after: i })));
    await j.close();
    // Seqs 11 to 20 now name other records; seq 21 on would follow silently without the check.
    await expect(f.next()).rejects.toMatchObject({ code: ErrorCode.DIVERGED });
    await expect(records.next()).rejects.toMatchObject({ code: ErrorCode.DIVERGED });
    await c.close();
  });

  it('a follower that read records appended during a compaction, past maxSeq in the new header, goes on: they are in the new file', async () => {
    const file = await timeline(4000);
    const f = follow(file, { fromSeq: 4000, pollMs: 20 });
    expect((await f.next()).value.seq).toBe(4000);
    const j = await Journal.open(file);
    let appended: Promise<unknown> | null = null;
    // The copy's reads wait for the append made during it, so that it lands in the old file.
    let gate: Promise<unknown> | null = null;
    hookIo('read', (orig) => (async (...args: Parameters<typeof orig>) => {
      if (appended !== null) await (gate ??= Promise.race([appended, sleep(3000)]));
      return orig(...args);
    }) as typeof orig);
    const r = await compact(file, { beforeSeq: 100, onProgress: (p) => {
      if (p.phase === 'copy' && appended === null) appended = j.append('during the copy');
    } });
    await appended;
    expect((await readAll(file, { fromSeq: 4001 })).map((x) => x.data)).toEqual(['during the copy']);
    expect(r.recordsAfter).toBe(4001 - 99);
    // Read from the old file, then found again in the new one.
    expect((await f.next()).value).toMatchObject({ seq: 4001, data: 'during the copy' });
    await j.append('after');
    await j.close();
    expect((await f.next()).value).toMatchObject({ seq: 4002, data: 'after' });
    await f.return();
  });
});
