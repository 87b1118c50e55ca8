// Named consumers as an operator runs them: positions in a log whose commits share fsyncs, one
// process per consumer at a time, reset and delete, expiry, and what compaction does to each.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compact, Consumer, consumersFloor, ErrorCode, Journal, listConsumers, rawJson } from '../src/index.js';
import { canReadExactIntegers } from '../src/format/json.js';
import { frameJson } from '../src/format/frame.js';
import { Child, countIo, hookIo, readAll, sleep, sysError, tmpJournal } from './helpers.js';

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const positionsLog = (file: string) => path.join(`${file}.consumers`, 'positions.jsonl');
/** The lines of the positions log about consumer `name`, oldest first. */
const linesOf = async (file: string, name: string) => (await readAll(positionsLog(file))).map((r) => r.data as { name: string; seq: number; epoch: number }).filter((d) => d.name === name);

async function journalOf(n: number, file = tmpJournal()): Promise<string> {
  const j = await Journal.open(file);
  await j.appendMany(range(1, n).map((i) => ({ i })));
  await j.close();
  return file;
}

/** Opens consumer `name` and takes `n` records from it, so that it may commit any of them. */
async function handedOut(file: string, name: string, n: number, opts?: Parameters<typeof Consumer.open>[2]) {
  const c = await Consumer.open(file, name, opts);
  const it = c.records();
  for (let i = 0; i < n; i++) await it.next();
  return { c, it };
}

/** The seq a consumer reads next, opened afresh. */
async function readsNext(file: string, name: string): Promise<number> {
  const c = await Consumer.open(file, name);
  const it = c.records();
  const r = await it.next();
  await it.return();
  await c.close();
  return r.value.seq;
}

describe('commits share fsyncs', () => {
  it('8 consumers committing at once share fdatasyncs: one per round of 8 commits, and no fsync at all', async () => {
    const file = await journalOf(50);
    const cs = await Promise.all(range(1, 8).map((k) => handedOut(file, `c${k}`, 50)));
    const fdatasyncs = countIo('fdatasync');
    const fsyncs = countIo('fsync');
    for (let seq = 1; seq <= 50; seq++) await Promise.all(cs.map(({ c }) => c.commit(seq)));
    expect(fdatasyncs.n).toBe(50);
    expect(fsyncs.n).toBe(0);
    for (const { c } of cs) expect(c.committedSeq).toBe(50);
    await Promise.all(cs.map(({ c }) => c.close()));
    expect((await listConsumers(file)).map((x) => x.seq)).toEqual(range(1, 8).map(() => 50));
  });

  it('8 consumers each committing after every record they process, independently: fewer fdatasyncs than half the commits', async () => {
    const file = await journalOf(200);
    const fdatasyncs = countIo('fdatasync');
    await Promise.all(range(1, 8).map(async (k) => {
      const c = await Consumer.open(file, `loop${k}`);
      for await (const rec of c.records()) {
        await c.commit(rec.seq);
        if (rec.seq === 200) break;
      }
      await c.close();
    }));
    // 8 opens and 1,600 commits.
    expect(fdatasyncs.n).toBeLessThan(8 + 800);
    expect((await listConsumers(file)).every((x) => x.seq === 200)).toBe(true);
  });

  it('commits made while an fdatasync runs are merged: one line per consumer for them, not one per commit', async () => {
    const file = await journalOf(100);
    const { c } = await handedOut(file, 'busy', 100);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let syncing!: () => void;
    const inSync = new Promise<void>((r) => (syncing = r));
    let calls = 0;
    hookIo('fdatasync', (orig) => async (fd) => {
      if (++calls === 1) {
        syncing();
        await gate;
      }
      return orig(fd);
    });
    const first = c.commit(1);
    await inSync;
    const rest = range(2, 100).map((s) => c.commit(s));
    release();
    await Promise.all([first, ...rest]);
    expect(calls).toBe(2);
    expect(c.committedSeq).toBe(100);
    expect((await linesOf(file, 'busy')).map((l) => l.seq)).toEqual([0, 1, 100]);
    await c.close();
  });

  it('a consumer that does not await its commits still learns of a failed one: at its next record and at close', async () => {
    const file = await journalOf(10);
    const { c, it } = await handedOut(file, 'fails', 5);
    hookIo('fdatasync', () => async () => {
      throw sysError('EIO', 'fdatasync');
    });
    const p = c.commit(5);
    await expect(p).rejects.toMatchObject({ code: ErrorCode.SYNC_FAILED });
    await expect(it.next()).rejects.toMatchObject({ code: ErrorCode.SYNC_FAILED });
    await expect(c.commit(5)).rejects.toMatchObject({ code: ErrorCode.SYNC_FAILED });
    await expect(c.close()).rejects.toMatchObject({ code: ErrorCode.SYNC_FAILED });
  });

  it('the positions log is compacted by write-replace as it grows: one line per consumer is left, every position intact', async () => {
    const file = await journalOf(700);
    // Long names make long lines: the log passes 1 MiB in a few hundred rounds.
    const names = range(1, 8).map((k) => `${'consumer-with-a-long-name-'.repeat(3)}${k}`);
    const cs = await Promise.all(names.map((n) => handedOut(file, n, 700)));
    const log = positionsLog(file);
    const header = () => JSON.parse(fs.readFileSync(log, 'utf8').split('\n')[0]!.slice(9)) as { generation: number };
    let seq = 0;
    while (header().generation === 0 && seq < 700) {
      seq++;
      await Promise.all(cs.map(({ c }) => c.commit(seq)));
    }
    expect(header().generation).toBe(1);
    const lines = await readAll(log);
    expect(lines.length).toBeLessThan(8 * 3);
    expect(fs.statSync(log).size).toBeLessThan(64 * 1024);
    await Promise.all(cs.map(({ c }) => c.close()));
    expect((await listConsumers(file)).map((x) => [x.name, x.seq])).toEqual(names.map((n) => [n, seq]));
  });
});

describe('positions of earlier versions', () => {
  it('a <name>.pos file is read and listed, and moved into the positions log when the consumer is opened', async () => {
    const file = await journalOf(20);
    const recs = await readAll(file);
    const fp = (await import('../src/consume/consumer.js')).fingerprint(recs[6]!);
    const dir = `${file}.consumers`;
    fs.mkdirSync(dir);
    const j = await Journal.open(file);
    const old = { name: 'legacy', seq: 7, updated: 1_700_000_000_000, journal: j.id, fingerprint: fp };
    await j.close();
    fs.writeFileSync(path.join(dir, 'legacy.pos'), frameJson(JSON.stringify(old)));
    expect(await listConsumers(file)).toEqual([expect.objectContaining({ name: 'legacy', seq: 7, lag: 13, updated: old.updated, live: false })]);
    expect(await consumersFloor(file)).toBe(8);
    const c = await Consumer.open(file, 'legacy');
    expect(c.committedSeq).toBe(7);
    expect(fs.existsSync(path.join(dir, 'legacy.pos'))).toBe(false);
    expect(await linesOf(file, 'legacy')).toEqual([expect.objectContaining({ seq: 7, fingerprint: fp })]);
    const it = c.records();
    expect((await it.next()).value.seq).toBe(8);
    await it.return();
    await c.close();
  });

  it('a damaged <name>.pos file is CORRUPT, as it always was', async () => {
    const file = await journalOf(3);
    fs.mkdirSync(`${file}.consumers`);
    fs.writeFileSync(path.join(`${file}.consumers`, 'bad.pos'), '00000000 {"seq":1}\n');
    await expect(Consumer.open(file, 'bad')).rejects.toMatchObject({ code: ErrorCode.CORRUPT });
    await expect(listConsumers(file)).rejects.toMatchObject({ code: ErrorCode.CORRUPT });
  });
});

describe('one process per consumer', () => {
  it('a second open of a consumer fails with CONSUMER_BUSY, in this process or another, until the first closes or dies', async () => {
    const file = await journalOf(1000);
    const c = await Consumer.open(file, 'solo');
    await expect(Consumer.open(file, 'solo')).rejects.toMatchObject({ code: ErrorCode.CONSUMER_BUSY });
    const child = new Child('consumer-running.mjs', [file, 'solo']);
    expect(await child.exited).toMatchObject({ code: 1 });
    expect(child.stderr).toContain('CONSUMER_BUSY');
    await c.close();
    await c.close();
    const running = new Child('consumer-running.mjs', [file, 'solo']);
    await running.waitFor((l) => l.startsWith('committed'));
    expect((await listConsumers(file))[0]).toMatchObject({ name: 'solo', live: true });
    await expect(Consumer.open(file, 'solo')).rejects.toMatchObject({ code: ErrorCode.CONSUMER_BUSY });
    await running.kill('SIGKILL');
    expect((await listConsumers(file))[0]).toMatchObject({ name: 'solo', live: false });
    const again = await Consumer.open(file, 'solo');
    expect(again.committedSeq).toBeGreaterThan(0);
    await again.close();
  });
});

describe('reset and delete', () => {
  it('reset to earliest, latest and a seq: the consumer reads exactly that record next', async () => {
    const file = await journalOf(30);
    const { c } = await handedOut(file, 'r', 20);
    await c.commit(20);
    await c.close();
    await compact(file, { beforeSeq: 5, retainForConsumers: false });
    expect(await Consumer.reset(file, 'r', 'earliest')).toEqual({ name: 'r', previous: 20, seq: 4, wasLive: false });
    expect(await readsNext(file, 'r')).toBe(5);
    expect(await Consumer.reset(file, 'r', { seq: 12 })).toMatchObject({ previous: 4, seq: 11 });
    expect(await readsNext(file, 'r')).toBe(12);
    expect(await Consumer.reset(file, 'r', 'latest')).toMatchObject({ previous: 11, seq: 30 });
    // Nothing to read until a record is appended.
    const later = await Consumer.open(file, 'r');
    const ac = new AbortController();
    const it = later.records({ signal: ac.signal, pollMs: 20 });
    const next = it.next();
    await sleep(100);
    const j = await Journal.open(file);
    await j.append({ later: true });
    await j.close();
    expect((await next).value).toMatchObject({ seq: 31, data: { later: true } });
    ac.abort();
    await later.close();
    expect(await Consumer.reset(file, 'r', { seq: 32 })).toMatchObject({ seq: 31 });
  });

  it('reset and seek to a time: the first record appended at or after it; a time after the last: the records from now on', async () => {
    const file = tmpJournal();
    const base = Date.parse('2026-11-22T03:00:00Z');
    const j = await Journal.open(file);
    await j.appendMany(range(1, 10).map((i) => ({ i })), { ts: range(1, 10).map((i) => base + i * 60_000) });
    await j.close();
    await (await Consumer.open(file, 'r')).close();
    expect(await Consumer.reset(file, 'r', { ts: base + 4.5 * 60_000 })).toMatchObject({ previous: 0, seq: 4 });
    expect(await readsNext(file, 'r')).toBe(5);
    expect(await Consumer.reset(file, 'r', { ts: new Date(base + 2 * 60_000) })).toMatchObject({ seq: 1 });
    expect(await readsNext(file, 'r')).toBe(2);
    expect(await Consumer.reset(file, 'r', { ts: base + 3_600_000 })).toMatchObject({ seq: 10 });
    const c = await Consumer.open(file, 'r');
    expect(await c.seek({ ts: base })).toBe(1);
    await c.close();
    expect(await readsNext(file, 'r')).toBe(1);
    await expect(Consumer.reset(file, 'r', { ts: Number.NaN })).rejects.toBeInstanceOf(RangeError);
  });

  it('a position committed while reading text or BigInt is the same position to a reader of values: no false DIVERGED', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany([rawJson('{"id":12345678901234567890123,"f":0.1000000000000000055511151231257827}'), { after: 1 }]);
    await j.close();
    await (await Consumer.open(file, 'm')).close();
    for (const data of canReadExactIntegers ? ['text', 'bigint'] as const : ['text'] as const) {
      await Consumer.reset(file, 'm', 'earliest');
      const c = await Consumer.open(file, 'm');
      const it = c.records({ data });
      await c.commit((await it.next()).value.seq);
      await it.return();
      await c.close();
      // The next open checks the record at the position, read as a value, against the fingerprint.
      expect(await readsNext(file, 'm'), data).toBe(2);
    }
  });

  it('seek on an open consumer moves it, and a running iteration goes on from there', async () => {
    const file = await journalOf(20);
    const c = await Consumer.open(file, 's');
    const seen: number[] = [];
    for await (const rec of c.records()) {
      seen.push(rec.seq);
      if (rec.seq === 10 && seen.length === 10) expect(await c.seek({ seq: 3 })).toBe(3);
      else c.commit(rec.seq);
      if (seen.length === 15) break;
    }
    expect(seen).toEqual([...range(1, 10), ...range(3, 7)]);
    await expect(c.commit(8)).rejects.toBeInstanceOf(RangeError);
    await c.commit(7);
    await c.close();
    expect(await readsNext(file, 's')).toBe(8);
  });

  it('targets the journal cannot give, or that are not targets, are a RangeError or TypeError, and nothing is written', async () => {
    const file = await journalOf(10);
    await (await Consumer.open(file, 't')).close();
    await compact(file, { beforeSeq: 4, retainForConsumers: false });
    const before = fs.readFileSync(positionsLog(file));
    await expect(Consumer.reset(file, 't', { seq: 12 })).rejects.toBeInstanceOf(RangeError);
    await expect(Consumer.reset(file, 't', { seq: 3 })).rejects.toBeInstanceOf(RangeError);
    await expect(Consumer.reset(file, 't', { seq: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(Consumer.reset(file, 't', { seq: 2.5 })).rejects.toBeInstanceOf(RangeError);
    await expect(Consumer.reset(file, 't', 'oldest' as never)).rejects.toBeInstanceOf(TypeError);
    await expect(Consumer.reset(file, '../t', 'latest')).rejects.toBeInstanceOf(TypeError);
    expect(fs.readFileSync(positionsLog(file)).equals(before)).toBe(true);
    await expect(Consumer.reset(file, 'nobody', 'latest')).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    await expect(Consumer.delete(file, 'nobody')).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    await expect(Consumer.delete(`${file}.missing`, 't')).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    expect(fs.readFileSync(positionsLog(file)).equals(before)).toBe(true);
  });

  it('reset and delete refuse a running consumer with CONSUMER_BUSY; forced, its later commits fail with CONSUMER_RESET and do not count', async () => {
    const file = await journalOf(40);
    const { c, it } = await handedOut(file, 'live', 20);
    await c.commit(10);
    await expect(Consumer.reset(file, 'live', 'earliest')).rejects.toMatchObject({ code: ErrorCode.CONSUMER_BUSY });
    await expect(Consumer.delete(file, 'live')).rejects.toMatchObject({ code: ErrorCode.CONSUMER_BUSY });
    expect(c.committedSeq).toBe(10);
    expect(await Consumer.reset(file, 'live', { seq: 3 }, { force: true })).toEqual({ name: 'live', previous: 10, seq: 2, wasLive: true });
    await expect(c.commit(20)).rejects.toMatchObject({ code: ErrorCode.CONSUMER_RESET });
    await expect(it.next()).rejects.toMatchObject({ code: ErrorCode.CONSUMER_RESET });
    await expect(c.close()).rejects.toMatchObject({ code: ErrorCode.CONSUMER_RESET });
    expect(await readsNext(file, 'live')).toBe(3);

    // A process that kept committing after a forced delete cannot bring the consumer back.
    const { c: c2 } = await handedOut(file, 'live', 5);
    expect(await Consumer.delete(file, 'live', { force: true })).toEqual({ name: 'live', seq: 2, wasLive: true });
    await expect(c2.commit(5)).rejects.toMatchObject({ code: ErrorCode.CONSUMER_RESET });
    await c2.close().catch(() => {});
    expect(await listConsumers(file)).toEqual([]);
  });

  it('a consumer opened the moment a forced reset fences off the running one is fenced off too: no commit that does not count resolves', async () => {
    const file = await journalOf(40);
    const { c: running } = await handedOut(file, 'r', 20);
    await running.commit(20);
    const lock = path.join(`${file}.consumers`, 'locks', 'r.lock');
    const between: Consumer[] = [];
    hookIo('unlink', (orig) => async (p) => {
      await orig(p);
      if (p === lock && between.length === 0) between.push(await Consumer.open(file, 'r'));
    });
    expect(await Consumer.reset(file, 'r', { seq: 5 }, { force: true })).toMatchObject({ seq: 4, wasLive: true });
    const late = between[0]!;
    const it = late.records();
    await expect((async () => {
      await late.commit((await it.next()).value.seq);
    })()).rejects.toMatchObject({ code: ErrorCode.CONSUMER_RESET });
    await late.close().catch(() => {});
    await running.close().catch(() => {});
    expect((await listConsumers(file))[0]).toMatchObject({ name: 'r', seq: 4 });
    expect(await readsNext(file, 'r')).toBe(5);
  });

  it('a consumer opened the moment a delete gives up its lock starts anew, and its commits count', async () => {
    const file = await journalOf(40);
    const { c } = await handedOut(file, 'd', 20);
    await c.commit(20);
    await c.close();
    const lock = path.join(`${file}.consumers`, 'locks', 'd.lock');
    const between: Consumer[] = [];
    hookIo('unlink', (orig) => async (p) => {
      await orig(p);
      if (p === lock && between.length === 0) between.push(await Consumer.open(file, 'd'));
    });
    await Consumer.delete(file, 'd');
    const late = between[0]!;
    expect(late.committedSeq).toBe(0);
    const it = late.records();
    const first = (await it.next()).value.seq;
    expect(first).toBe(1);
    await late.commit(first);
    await late.close();
    expect(await listConsumers(file)).toEqual([expect.objectContaining({ name: 'd', seq: 1 })]);
  });

  it('a deleted consumer holds nothing back; opened again it starts anew, and lines of its old life cannot outrank it', async () => {
    const file = await journalOf(30);
    const { c } = await handedOut(file, 'gone', 10);
    await c.commit(10);
    await c.close();
    const keeper = await Consumer.open(file, 'keeper');
    await keeper.close();
    expect(await consumersFloor(file)).toBe(1);
    expect(await Consumer.delete(file, 'keeper')).toEqual({ name: 'keeper', seq: 0, wasLive: false });
    expect(await consumersFloor(file)).toBe(11);
    await Consumer.delete(file, 'gone');
    expect(await listConsumers(file)).toEqual([]);
    expect(await consumersFloor(file)).toBeUndefined();
    const r = await compact(file, { beforeSeq: 25 });
    expect(r).toMatchObject({ recordsAfter: 6, consumers: [] });
    const again = await Consumer.open(file, 'gone');
    expect(again.committedSeq).toBe(0);
    await again.close();
    const epochs = (await linesOf(file, 'gone')).map((l) => l.epoch);
    expect(epochs).toEqual([0, 0, 1, 2]);
  });
});

describe('expiry', () => {
  it('a consumer not seen for its expireAfterMs no longer holds records back; one that is open is never expired', async () => {
    const file = await journalOf(40);
    const { c } = await handedOut(file, 'away', 10, { expireAfterMs: 200 });
    await c.commit(10);
    await c.close();
    const { c: open } = await handedOut(file, 'here', 20, { expireAfterMs: 100 });
    await open.commit(20);
    const before = Date.now();
    await sleep(400);
    const list = await listConsumers(file);
    expect(list).toEqual([
      expect.objectContaining({ name: 'away', seq: 10, expired: true, live: false, expireAfterMs: 200 }),
      expect.objectContaining({ name: 'here', seq: 20, expired: false, live: true, expireAfterMs: 100 }),
    ]);
    // While open it is seen every half of its expireAfterMs, without committing.
    expect(list[1]!.lastActive).toBeGreaterThan(before);
    expect(await consumersFloor(file)).toBe(21);
    const r = await compact(file, { beforeSeq: 30 });
    expect(r.consumers).toEqual([
      { name: 'away', seq: 10, expired: true, kept: 0, removed: 10, positionGone: true },
      { name: 'here', seq: 20, expired: false, kept: 9, removed: 0, positionGone: false },
    ]);
    await open.close();
    // Opened again, an expired consumer is seen again (and learns what it lost when it reads).
    const back = await Consumer.open(file, 'away');
    await expect(back.records().next()).rejects.toMatchObject({ code: ErrorCode.POSITION_GONE });
    await back.close();
    expect((await listConsumers(file))[0]).toMatchObject({ name: 'away', expired: false });
    await expect(Consumer.open(file, 'x', { expireAfterMs: 0 })).rejects.toBeInstanceOf(RangeError);
  });
});

describe('compaction and consumers', () => {
  it('compaction keeps what consumers have not read and says how much for whom; told to ignore them, it names each one it leaves behind', async () => {
    const file = await journalOf(100);
    for (const [name, seq] of [['slow', 20], ['fast', 60]] as const) {
      const { c } = await handedOut(file, name, seq);
      await c.commit(seq);
      await c.close();
    }
    const odd = (r: { seq: number }) => r.seq % 2 === 0;
    const kept = await compact(file, { keep: odd, beforeSeq: 50 });
    // Retention stops at the slowest consumer's next record, and the policy applies only below it.
    expect((await readAll(file)).map((r) => r.seq)).toEqual(range(21, 100));
    expect(kept.consumers).toEqual([
      { name: 'fast', seq: 60, expired: false, kept: 20, removed: 0, positionGone: false },
      { name: 'slow', seq: 20, expired: false, kept: 54, removed: 0, positionGone: false },
    ]);
    const left = await compact(file, { keep: odd, beforeSeq: 50, retainForConsumers: false });
    expect((await readAll(file)).map((r) => r.seq)).toEqual(range(50, 100).filter((s) => s % 2 === 0));
    expect(left.consumers).toEqual([
      { name: 'fast', seq: 60, expired: false, kept: 0, removed: 20, positionGone: false },
      { name: 'slow', seq: 20, expired: false, kept: 0, removed: 54, positionGone: true },
    ]);
    // A compaction with nothing to drop reads no positions and reports nothing.
    expect((await compact(file)).consumers).toEqual([]);
  });
});
