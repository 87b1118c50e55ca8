import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { compact, Consumer, consumersFloor, ErrorCode, follow, Journal, listConsumers, type JournalRecord } from '../src/index.js';
import { frameJson } from '../src/format/frame.js';
import { appendBytes, Child, flipByte, countReads, hookIo, readAll, sleep, tmpDir, tmpJournal } from './helpers.js';

/** Follows `file` in the background, collecting records until `until` returns true or the signal aborts. */
function collect(file: string, opts: Parameters<typeof follow>[1] = {}, until?: (seen: JournalRecord[]) => boolean) {
  const ac = new AbortController();
  const seen: JournalRecord[] = [];
  const done = (async () => {
    for await (const r of follow(file, { pollMs: 50, ...opts, signal: ac.signal })) {
      seen.push(r);
      if (until?.(seen)) break;
    }
  })();
  return { seen, done, stop: async () => (ac.abort(), await done) };
}

async function eventually(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await sleep(10);
  }
}

const seqs = (rs: JournalRecord[]) => rs.map((r) => r.seq);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('follow', () => {
  it('replays, then follows a writer in another process: 20,000 records at random pace, in order, each once', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany(range(1, 500).map((i) => ({ before: i })));
    await j.close();
    const writer = new Child('writer.mjs', [file, 'w', '4', '4875', JSON.stringify({ pauseMs: 1 })]);
    const f = collect(file, {}, (seen) => seen.length === 20_000);
    const exit = await writer.exited;
    expect(exit.code, writer.stderr).toBe(0);
    await f.done;
    expect(seqs(f.seen)).toEqual(range(1, 20_000));
    const acked = writer.lines.filter((l) => l.startsWith('ack')).map((l) => Number(l.split(' ')[1]));
    expect(acked.length).toBe(19_500);
    const got = new Set(seqs(f.seen));
    for (const s of acked) expect(got.has(s)).toBe(true);
  }, 120_000);

  it('from fromSeq, found by seeking, not by reading from the top', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    for (let b = 0; b < 50; b++) await j.appendMany(range(1, 1000).map((i) => ({ b, i, pad: 'f'.repeat(50) })));
    await j.close();
    const read = countReads();
    const f = collect(file, { fromSeq: 49_990 }, (seen) => seen.length === 11);
    await f.done;
    expect(seqs(f.seen)).toEqual(range(49_990, 50_000));
    expect(read.bytes).toBeLessThan(fs.statSync(file).size / 5);
  });

  it('waits for a journal that does not exist yet', async () => {
    const file = tmpJournal();
    const f = collect(file, {}, (seen) => seen.length === 3);
    await sleep(150);
    expect(f.seen).toEqual([]);
    const j = await Journal.open(file);
    await j.appendMany(['a', 'b', 'c']);
    await f.done;
    await j.close();
    expect(f.seen.map((r) => r.data)).toEqual(['a', 'b', 'c']);
  });

  it('an unfinished batch at the end is "not yet": it is yielded once complete, never in part', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append('first');
    const f = collect(file);
    await eventually(() => f.seen.length === 1);
    // Write the next batch in two halves, as a slow writer would.
    const { encodeBatch, prepareRecord } = await import('../src/format/batch.js');
    const size = fs.statSync(file).size;
    const batch = encodeBatch([prepareRecord('g1', 1), prepareRecord('g2', 2), prepareRecord('g3', 3)], 2, size).bytes;
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, batch, 0, 50, size);
    await sleep(200);
    expect(f.seen.length).toBe(1);
    fs.writeSync(fd, batch, 50, batch.length - 50, size + 50);
    fs.closeSync(fd);
    await eventually(() => f.seen.length === 4);
    await f.stop();
    await j.close();
    expect(f.seen.map((r) => r.data)).toEqual(['first', 'g1', 'g2', 'g3']);
  });

  it('a torn tail it has read is never joined to the batch a writer writes after cutting it', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    await j.close();
    // What a writer killed in the middle of a batch leaves: records 4 and 5, and no commit mark.
    const ts = Date.now();
    appendBytes(file, Buffer.concat([frameJson(`{"seq":4,"ts":${ts},"data":"torn-a"}`), frameJson(`{"seq":5,"ts":${ts},"data":"torn-b"}`)]));
    const f = follow(file, { pollMs: 20 });
    try {
      for (const n of [1, 2, 3]) expect((await f.next()).value.seq).toBe(n);
      // The follower has read the torn lines too. Now the next writer cuts them and writes a batch
      // whose first two lines take exactly their bytes: reading on from where the follower stopped
      // would find only the new commit mark, and "commit 3" would pass the torn records off as committed.
      const w = await Journal.open(file);
      await w.appendMany(['good-a', 'good-b', 'third']);
      await w.close();
      const got = [];
      for (let i = 0; i < 3; i++) got.push((await f.next()).value);
      expect(got.map((r) => [r.seq, r.data])).toEqual([[4, 'good-a'], [5, 'good-b'], [6, 'third']]);
    } finally {
      await f.return();
    }
  });

  it('a record appended just as a read found the end is handed out, with no later append to wake the follower', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append('first');
    await j.close();
    const { encodeBatch, prepareRecord } = await import('../src/format/batch.js');
    let armed = true;
    hookIo('read', (orig) => async (fd, buf, off, len, pos) => {
      const n = await orig(fd, buf, off, len, pos);
      if (n === 0 && armed) {
        armed = false;
        // A writer appends right after the follower's read came back empty.
        const size = fs.statSync(file).size;
        fs.appendFileSync(file, encodeBatch([prepareRecord('second', 2)], 2, size).bytes);
      }
      return n;
    });
    const f = collect(file);
    await eventually(() => f.seen.length === 2, 3000);
    await f.stop();
    expect(f.seen.map((r) => r.data)).toEqual(['first', 'second']);
  });

  it('follows through 10 compactions and 10 torn-tail repairs: nothing skipped, nothing duplicated', async () => {
    const file = tmpJournal();
    let writer = await Journal.open(file);
    const f = collect(file);
    let n = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 25; i++) await writer.append({ round, i, n: ++n });
      if (round % 2 === 0) {
        await compact(file);
      } else {
        // A writer dies mid-batch; the next one cuts its torn tail and goes on.
        fs.appendFileSync(file, '0badf00d {"seq":99999,"ts":1,"data":"torn');
        await sleep(30);
        await writer.close();
        writer = await Journal.open(file);
      }
      await sleep(20);
    }
    await eventually(() => f.seen.length >= n);
    await sleep(100);
    await f.stop();
    await writer.close();
    expect(seqs(f.seen)).toEqual(range(1, n));
    expect(JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]!.slice(9)).generation).toBe(10);
  });

  it('skips the records a compaction removed under it, and goes on after the last seq it yielded', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany(range(1, 10).map((i) => ({ i })));
    const f = collect(file);
    await eventually(() => f.seen.length === 10);
    await j.appendMany(range(11, 20).map((i) => ({ i })));
    await compact(file, { keep: (r) => r.seq % 2 === 0 || r.seq <= 10 });
    await j.appendMany(range(21, 22).map((i) => ({ i })));
    await eventually(() => f.seen.at(-1)?.seq === 22);
    await f.stop();
    await j.close();
    const after = seqs(f.seen).filter((s) => s > 10);
    // Depending on timing it saw 11..20 before the compaction, or only the even ones after it.
    expect([range(11, 22), [12, 14, 16, 18, 20, 21, 22]].map((x) => JSON.stringify(x))).toContain(JSON.stringify(after));
  });

  it('a resume point removed by retention: POSITION_GONE, or the oldest record still there', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany(range(1, 100).map((i) => ({ i })));
    await j.close();
    await compact(file, { beforeSeq: 60 });
    const it = follow(file, { fromSeq: 30 });
    await expect(it.next()).rejects.toMatchObject({ code: ErrorCode.POSITION_GONE });
    const f = collect(file, { fromSeq: 30, onPositionGone: 'oldest' }, (seen) => seen.length === 41);
    await f.done;
    expect(seqs(f.seen)).toEqual(range(60, 100));
    // Without a position of its own, a follower simply starts at the oldest record.
    const g = collect(file, {}, (seen) => seen.length === 1);
    await g.done;
    expect(g.seen[0]!.seq).toBe(60);
  });

  it('a running follower finishes the old file before moving to the compacted one: retention under it loses it nothing', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany(range(1, 10).map((i) => ({ i })));
    const it = follow(file, { pollMs: 20 });
    for (let s = 1; s <= 10; s++) expect((await it.next()).value.seq).toBe(s);
    await j.appendMany(range(11, 20).map((i) => ({ i })));
    await compact(file, { beforeSeq: 15 });
    await j.appendMany(range(21, 22).map((i) => ({ i })));
    await j.close();
    const rest: number[] = [];
    for (let s = 11; s <= 22; s++) rest.push((await it.next()).value.seq);
    await it.return();
    expect(rest).toEqual(range(11, 22));
  });

  it('durableOnly (the default): records are handed out only after an fdatasync made them durable', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    const events: string[] = [];
    hookIo('fdatasync', (orig) => async (fd) => {
      events.push('sync');
      return orig(fd);
    });
    const f = collect(file);
    await j.append('one');
    await eventually(() => f.seen.length === 1);
    events.push('yielded');
    await f.stop();
    expect(events.slice(0, 2)).toEqual(['sync', 'yielded']);
    events.length = 0;
    const g = collect(file, { durableOnly: false });
    await eventually(() => g.seen.length === 1);
    await g.stop();
    await j.close();
    expect(events).toEqual([]);
  });

  it('a durable-only follower that cannot fsync the directory as it opens the journal fails with SYNC_FAILED naming it', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append('one');
    await j.close();
    hookIo('fsyncDir', () => async () => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    });
    const it = follow(file, { pollMs: 50 })[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toMatchObject({ code: ErrorCode.SYNC_FAILED, path: file, message: `cannot fsync the directory of ${file}: EIO` });
    await it.return?.();
  });

  it('an aborted follower leaves no open fd, watcher or timer behind', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append('x');
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const handles = () => process.getActiveResourcesInfo().sort().join(',');
    // Snapshots are taken outside any timer callback, so only handles that are really held count.
    const snapshot = async () => {
      await new Promise((r) => setImmediate(r));
      return { fds: fds(), handles: handles() };
    };
    const cycle = async (how: 'abort' | 'return', check?: (during: { fds: number; handles: string }) => void) => {
      const ac = new AbortController();
      const it = follow(file, { signal: ac.signal, pollMs: 30 });
      expect((await it.next()).value.data).toBe('x');
      const waiting = it.next();
      await sleep(80);
      // Between two polls its timer is armed; while a poll's read is in flight it is not yet re-armed.
      // On a loaded machine a read can stay in the threadpool for a while: wait for it by the clock,
      // in setImmediate steps, since a timer of the test's own would show up as one of the follower's.
      let during = await snapshot();
      const until = Date.now() + 5_000;
      while (!/Timeout/.test(during.handles) && Date.now() < until) during = await snapshot();
      check?.(during);
      if (how === 'abort') ac.abort();
      else await it.return();
      expect((await waiting).done).toBe(true);
    };
    // The process's first fs.watch opens libuv's inotify descriptor for good: warm it up first.
    await cycle('return');
    const before = await snapshot();
    for (const how of ['abort', 'return'] as const) {
      await cycle(how, (during) => {
        // While it waits, its file, watcher and timer are there to be seen.
        expect(during.fds).toBe(before.fds + 1);
        expect(during.handles).toMatch(/FSEventWrap/);
        expect(during.handles).toMatch(/Timeout/);
      });
      // Nothing added: the same descriptors, no watcher, and no more timers than before (the test
      // runner has timers of its own that come and go).
      const after = await snapshot();
      const timers = (h: string) => h.split(',').filter((x) => x === 'Timeout').length;
      expect(after.fds, how).toBe(before.fds);
      expect(after.handles, how).not.toMatch(/FSEventWrap/);
      expect(timers(after.handles), how).toBeLessThanOrEqual(timers(before.handles));
    }
    await j.close();
  });

  it('when the directory watch never fires, polling still delivers new records within pollMs', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append('first');
    // A watcher that is created fine but never reports anything, as on some network file systems.
    class DeafWatcher extends EventEmitter {
      close(): void {}
      ref(): this {
        return this;
      }
      unref(): this {
        return this;
      }
    }
    const deaf = vi.spyOn(fs, 'watch').mockImplementation((() => new DeafWatcher()) as unknown as typeof fs.watch);
    try {
      const f = collect(file, { pollMs: 100 });
      await eventually(() => f.seen.length === 1);
      const t0 = Date.now();
      await j.append('second');
      await eventually(() => f.seen.length === 2);
      expect(Date.now() - t0).toBeLessThan(1_000);
      expect(deaf).toHaveBeenCalled();
      await f.stop();
    } finally {
      deaf.mockRestore();
      await j.close();
    }
  });

  it('damage under durable data: the records before it are handed out, then CORRUPT', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany(['a', 'b', 'c']);
    const { offset } = await j.append('damaged');
    await j.appendMany(['d', 'e']);
    await j.close();
    flipByte(file, offset + 20);
    const got: unknown[] = [];
    const run = (async () => {
      for await (const r of follow(file, { pollMs: 20 })) got.push(r.data);
    })();
    await expect(run).rejects.toMatchObject({ code: ErrorCode.CORRUPT, offset });
    expect(got).toEqual(['a', 'b', 'c']);
  });

  it('an idle follower costs (almost) no CPU', async () => {
    const file = tmpJournal();
    await (await Journal.open(file)).close();
    const f = collect(file, { pollMs: 200 });
    await sleep(100);
    const c0 = process.cpuUsage();
    await sleep(1000);
    const used = process.cpuUsage(c0);
    await f.stop();
    expect((used.user + used.system) / 1000).toBeLessThan(50);
  });
});

describe('named consumers', () => {
  it('resume after the last committed seq; positions and lag are listed', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany(range(1, 30).map((i) => ({ i })));
    const c = await Consumer.open(file, 'indexer');
    expect(c.committedSeq).toBe(0);
    let n = 0;
    for await (const r of c.records()) {
      if (++n === 10) {
        await c.commit(r.seq);
        break;
      }
    }
    await c.close();
    const again = await Consumer.open(file, 'indexer');
    expect(again.committedSeq).toBe(10);
    const it = again.records();
    expect((await it.next()).value.seq).toBe(11);
    await it.return();
    expect(await listConsumers(file)).toEqual([expect.objectContaining({ name: 'indexer', seq: 10, lag: 20 })]);
    expect(await consumersFloor(file)).toBe(11);
    // A consumer that has not committed anything yet is listed, and holds the floor at seq 1.
    const other = await Consumer.open(file, 'other');
    expect(await listConsumers(file)).toEqual([
      expect.objectContaining({ name: 'indexer', seq: 10, lag: 20 }),
      expect.objectContaining({ name: 'other', seq: 0, lag: 30 }),
    ]);
    expect(await consumersFloor(file)).toBe(1);
    await Promise.all([again.close(), other.close(), j.close()]);
  });

  it('a commit resolves only after its line in the positions log is written and fdatasynced', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append(1);
    await j.close();
    const c = await Consumer.open(file, 'a');
    const it = c.records();
    const r = await it.next();
    await it.return();
    const calls: string[] = [];
    for (const name of ['write', 'writeSync', 'fdatasync'] as const) {
      hookIo(name, (orig) => ((...args: unknown[]) => {
        calls.push(name === 'writeSync' ? 'write' : name);
        return (orig as (...a: unknown[]) => unknown)(...args);
      }) as never);
    }
    await c.commit(r.value.seq).then(() => calls.push('resolved'));
    expect(calls).toEqual(['write', 'fdatasync', 'resolved']);
    await c.close();
    expect(fs.readdirSync(`${file}.consumers`).sort()).toEqual(['locks', 'positions.jsonl']);
    expect((await readAll(path.join(`${file}.consumers`, 'positions.jsonl'))).at(-1)!.data).toMatchObject({ name: 'a', seq: 1 });
  });

  it('a consumer whose committed record is past the end of the journal, or is another record, fails with DIVERGED', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany(range(1, 10).map((i) => ({ i })));
    await j.close();
    const c = await Consumer.open(file, 'x');
    for await (const r of c.records()) {
      if (r.seq === 10) {
        await c.commit(10);
        break;
      }
    }
    await c.close();
    // A power loss took back records 6..10 (simulated by cutting them off).
    const recs = await readAll(file);
    fs.truncateSync(file, recs[5]!.offset);
    // Hand-cut inside a batch: the last batch is now torn; reopen cuts to the end of seq 5's batch.
    await (await Journal.open(file)).close();
    const kept = (await readAll(file)).length;
    const c2 = await Consumer.open(file, 'x');
    await expect(c2.records().next()).rejects.toMatchObject({ code: ErrorCode.DIVERGED });
    await c2.close();
    // New records then reuse the lost seqs: the one at seq 10 is not the committed one.
    const j2 = await Journal.open(file);
    await j2.appendMany(range(kept + 1, 10).map((i) => ({ i, different: true })));
    await j2.close();
    const c3 = await Consumer.open(file, 'x');
    await expect(c3.records().next()).rejects.toMatchObject({ code: ErrorCode.DIVERGED, message: expect.stringContaining('not the one it committed') });
    await c3.close();
  });

  it('committing a seq it did not hand out is a RangeError; names are checked', async () => {
    const file = tmpJournal();
    await (await Journal.open(file)).close();
    const c = await Consumer.open(file, 'ok-name_1.2');
    await expect(c.commit(5)).rejects.toBeInstanceOf(RangeError);
    await expect(Consumer.open(file, '../escape')).rejects.toBeInstanceOf(TypeError);
    await expect(Consumer.open(file, '')).rejects.toBeInstanceOf(TypeError);
  });

  it('compaction with retainForConsumers removes nothing a consumer has not committed', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany(range(1, 40).map((i) => ({ i })));
    await j.close();
    const c = await Consumer.open(file, 'slow');
    for await (const r of c.records()) {
      if (r.seq === 15) {
        await c.commit(15);
        break;
      }
    }
    // A consumer that has not started yet keeps everything.
    const fresh = await Consumer.open(file, 'fresh');
    await compact(file, { beforeSeq: 30, retainForConsumers: true });
    expect(seqs(await readAll(file))).toEqual(range(1, 40));
    const first = fresh.records();
    expect((await first.next()).value.seq).toBe(1);
    await first.return();
    await fresh.close();
    await Consumer.delete(file, 'fresh');
    await c.close();
    // Below the consumer's floor (16) the policy applies; from it on, everything stays, and
    // retention stops at the floor instead of at 30.
    await compact(file, { keep: (r) => r.seq % 2 === 0, retainForConsumers: true });
    expect(seqs(await readAll(file))).toEqual([...range(1, 15).filter((s) => s % 2 === 0), ...range(16, 40)]);
    await compact(file, { beforeSeq: 30, retainForConsumers: true });
    expect(seqs(await readAll(file))).toEqual(range(16, 40));
    const it = (await Consumer.open(file, 'slow')).records();
    expect((await it.next()).value.seq).toBe(16);
    await it.return();
  });

  it('a consumer killed with SIGKILL 50 times: every record processed at least once, none skipped; exactly once with the atomic pattern', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    for (let b = 0; b < 40; b++) await j.appendMany(range(1, 50).map((i) => ({ b, i })));
    await j.close();
    const last = 2000;
    const dir = tmpDir();
    const outs = { position: path.join(dir, 'processed.txt'), atomic: path.join(dir, 'state.json') };
    const progress = (f: string) => {
      const st = fs.statSync(f, { throwIfNoEntry: false });
      return st === undefined ? '' : `${st.ino}:${st.size}:${st.mtimeMs}`;
    };
    for (const mode of ['position', 'atomic'] as const) {
      let midWork = 0;
      for (let k = 0; k < 50; k++) {
        const before = progress(outs[mode]);
        const c = new Child('consumer.mjs', [file, mode, outs[mode], String(last)]);
        // Kill it while it works: after it has processed something, at a random moment.
        const t0 = Date.now();
        while (progress(outs[mode]) === before && c.proc.exitCode === null && Date.now() - t0 < 10_000) await sleep(2);
        await sleep(Math.random() * 15);
        if (c.proc.exitCode === null) midWork++;
        await c.kill('SIGKILL');
      }
      expect(midWork).toBe(50);
      const final = new Child('consumer.mjs', [file, mode, outs[mode], String(last)]);
      expect((await final.exited).code, final.stderr).toBe(0);
    }
    const processed = fs.readFileSync(outs.position, 'utf8').trim().split('\n').map(Number);
    expect(new Set(processed)).toEqual(new Set(range(1, last)));
    for (let i = 1; i < processed.length; i++) expect(processed[i]).toBeLessThanOrEqual(processed[i - 1]! + 1);
    const state = JSON.parse(fs.readFileSync(outs.atomic, 'utf8'));
    expect(state.processed).toEqual(range(1, last));
  }, 120_000);
});
