import fs from 'node:fs';
import fsExt from 'fs-ext';
import { describe, expect, it } from 'vitest';
import { ErrorCode, Journal, verify } from '../src/index.js';
import { Child, countIo, readAll, sleep, tmpDir, tmpJournal } from './helpers.js';
import path from 'node:path';

/**
 * Holds the writers' lock on `file` from a separate open file description, like a stuck peer. It
 * takes it through fs-ext, as jsonl-journal's writers did before the flock addon: both must exclude each other.
 */
function holdLock(file: string): () => void {
  const fd = fs.openSync(file, 'r');
  fsExt.flockSync(fd, 'ex');
  return () => {
    fsExt.flockSync(fd, 'un');
    fs.closeSync(fd);
  };
}

describe('the writers lock', () => {
  it('a lock held too long: the batch rejects with LOCK_TIMEOUT, nothing is written, and appends work once it is free', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { lockTimeoutMs: 200 });
    await j.append('first');
    const size = fs.statSync(file).size;
    const release = holdLock(file);
    const t0 = Date.now();
    await expect(j.append('blocked')).rejects.toMatchObject({ code: ErrorCode.LOCK_TIMEOUT });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(fs.statSync(file).size).toBe(size);
    release();
    expect((await j.append('free again')).seq).toBe(2);
    await j.close();
    expect((await readAll(file)).map((r) => r.data)).toEqual(['first', 'free again']);
  });

  it('six journals waiting for stuck peers do not stall the process: other file I/O goes on', async () => {
    const dir = tmpDir();
    const releases: Array<() => void> = [];
    const journals: Journal[] = [];
    for (let i = 0; i < 6; i++) {
      const file = path.join(dir, `j${i}.jsonl`);
      journals.push(await Journal.open(file, { lockTimeoutMs: 3000 }));
      releases.push(holdLock(file));
    }
    const waiting = journals.map((j) => j.append('waits').catch((e) => e));
    await new Promise((r) => setTimeout(r, 50));
    // With four blocking flocks in libuv's threadpool, these would wait for the lock timeout.
    const probe = path.join(dir, 'probe.txt');
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) {
      await fs.promises.writeFile(probe, `probe ${i}`);
      await fs.promises.readFile(probe);
    }
    expect(Date.now() - t0).toBeLessThan(1000);
    releases.forEach((r) => r());
    const results = await Promise.all(waiting);
    for (const r of results) expect(r).toMatchObject({ seq: 1 });
    for (const j of journals) await j.close();
  });

  it('a writer that timed out gets the lock on a later append (the abandoned wait is adopted, never leaked)', async () => {
    const file = tmpJournal();
    // Long enough for a grant to reach a loaded machine's event loop, short enough to time out twice.
    const j = await Journal.open(file, { lockTimeoutMs: 500 });
    const release = holdLock(file);
    await expect(j.append('a')).rejects.toMatchObject({ code: ErrorCode.LOCK_TIMEOUT });
    await expect(j.append('b')).rejects.toMatchObject({ code: ErrorCode.LOCK_TIMEOUT });
    release();
    expect((await j.append('c')).seq).toBe(1);
    // The lock is free again afterwards: another writer can take it.
    const other = await Journal.open(file, { lockTimeoutMs: 1000 });
    expect((await other.append('d')).seq).toBe(2);
    await other.close();
    await j.close();
  });

  it('two Journal instances on one path in one process behave like two processes', async () => {
    const file = tmpJournal();
    const a = await Journal.open(file);
    const b = await Journal.open(file);
    const ra: number[] = [];
    const rb: number[] = [];
    await Promise.all([
      ...Array.from({ length: 20 }, async (_, p) => { for (let k = 0; k < 50; k++) ra.push((await a.append({ w: 'a', p, k })).seq); }),
      ...Array.from({ length: 20 }, async (_, p) => { for (let k = 0; k < 50; k++) rb.push((await b.appendMany([{ w: 'b', p, k }, { w: 'b2', p, k }])).at(-1)!.seq); }),
    ]);
    await a.close();
    await b.close();
    const recs = await readAll(file);
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(new Set([...ra, ...rb]).size).toBe(2000);
    const report = await verify(file);
    expect(report).toMatchObject({ ok: true, records: 3000 });
  });

  it("without a sync per batch, awaited appends keep the lock from batch to batch instead of taking it for each", async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    const locks = countIo('tryLockSync');
    const stats = countIo('statSync');
    for (let i = 0; i < 200; i++) await j.append({ i });
    // 200 batches; the lock is retaken (and the file checked) only when a lease runs out.
    expect(locks.n).toBeLessThan(50);
    expect(stats.n).toBe(locks.n);
    await j.close();
    expect((await readAll(file)).map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('a writer keeping the lock between batches gives it back at the next turn of the event loop and on close', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    const fd = fs.openSync(file, 'r');
    try {
      // Still held right after a batch... The lock is kept only when the batch was written within
      // 1 ms (LEASE_MS) of taking it, which a loaded machine can miss once: up to 20 batches to see it.
      let held = false;
      for (let i = 0; i < 20 && !held; i++) {
        await new Promise((r) => setImmediate(r));
        await j.append(`kept ${i}`);
        try {
          fsExt.flockSync(fd, 'exnb');
          fsExt.flockSync(fd, 'un');
        } catch (err) {
          expect(err).toMatchObject({ code: expect.stringMatching(/EAGAIN|EWOULDBLOCK/) });
          held = true;
        }
      }
      expect(held).toBe(true);
      // ...and free once the event loop has turned.
      await new Promise((r) => setImmediate(r));
      fsExt.flockSync(fd, 'exnb');
      fsExt.flockSync(fd, 'un');
      const more = j.append('then closed');
      await j.close();
      await more;
      fsExt.flockSync(fd, 'exnb');
      fsExt.flockSync(fd, 'un');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a writer in another process gets the lock while one keeps it between batches in a tight loop', async () => {
    const file = tmpJournal();
    await (await Journal.open(file)).close();
    // One producer awaiting each append and nothing else: it keeps the lock from batch to batch.
    const w = new Child('writer.mjs', [file, 'w', '1', '0', JSON.stringify({ durability: 'unsafe-nosync' })]);
    try {
      await w.waitFor((l) => l.startsWith('open '));
      await sleep(200);
      const b = await Journal.open(file, { durability: 'unsafe-nosync', lockTimeoutMs: 2000 });
      for (let k = 0; k < 5; k++) await b.append({ b: k });
      await b.close();
      await sleep(100);
    } finally {
      await w.kill();
    }
    // The SIGKILL may land inside the writer's last write(2), which then leaves a torn tail; nothing else may be wrong.
    const report = await verify(file);
    expect(report.corrupt).toEqual([]);
    // (Its one producer's batches are one append or one group of at most 5 records of under 500 bytes: a torn tail is part of one.)
    if (report.tornTail !== null) expect(report.tornTail.bytes).toBeLessThan(4096);
    const recs = await readAll(file);
    const mine = recs.filter((r) => (r.data as { b?: number }).b !== undefined).map((r) => r.seq);
    expect(mine).toHaveLength(5);
    // The other writer was appending before and after them.
    expect(recs[0]!.seq).toBeLessThan(mine[0]!);
    expect(recs.at(-1)!.seq).toBeGreaterThan(mine[4]!);
  });

  it('a process that gave up waiting for the lock ends at once, by process.exit or by running out of work, while the lock is still held', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append('x');
    await j.close();
    const release = holdLock(file);
    try {
      for (const how of ['exit', 'drain']) {
        const child = new Child('lock-give-up.mjs', [file, how]);
        // A blocked flock that held the process up would end only when the lock is let go, after this.
        const ended = await Promise.race([child.exited, sleep(30_000).then(() => null)]);
        if (ended === null) child.proc.kill('SIGKILL');
        expect({ how, ended, lines: child.lines, stderr: child.stderr }).toEqual({
          how, ended: { code: how === 'exit' ? 3 : 0, signal: null }, lines: ['LOCK_TIMEOUT'], stderr: '',
        });
      }
    } finally {
      release();
    }
  }, 90_000);
});
