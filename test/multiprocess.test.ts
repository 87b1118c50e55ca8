import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Journal, verify } from '../src/index.js';
import { acked, checkJournal, Child, hookIo, readAll, replaceLikeCompactor, sleep, tmpJournal } from './helpers.js';

describe('many processes, one journal', () => {
  it('4 processes × 5,000 appends, random sizes (some over 512 KiB) and groups: 20,000 records, seqs 1..20000, each once, in order', async () => {
    const file = tmpJournal();
    const kids = Array.from({ length: 4 }, (_, i) => new Child('writer.mjs', [file, `p${i}`, '10', '500', JSON.stringify({ bigEvery: 300 })]));
    const exits = await Promise.all(kids.map((k) => k.exited));
    for (const [i, e] of exits.entries()) expect(e.code, kids[i]!.stderr).toBe(0);
    const ack = acked(kids);
    expect(ack.size).toBe(20_000);
    const report = await verify(file);
    expect(report).toMatchObject({ ok: true, records: 20_000, firstSeq: 1, lastSeq: 20_000 });
    const recs = await readAll(file);
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 20_000 }, (_, i) => i + 1));
    expect(recs.filter((r) => ((r.data as { pad: string }).pad.length > 512 * 1024)).length).toBeGreaterThan(10);
    await checkJournal(file, ack);
  }, 180_000);

  it('one writer SIGKILLed in the middle of its batches 50 times while three others keep appending: nothing acknowledged lost, nothing corrupt', async () => {
    const file = tmpJournal();
    await (await Journal.open(file)).close();
    const steady = Array.from({ length: 3 }, (_, i) => new Child('writer.mjs', [file, `s${i}`, '2']));
    const victims: Child[] = [];
    for (let round = 0; round < 50; round++) {
      // Half the kills land exactly in the middle of a batch write (half of it on disk), half at a random moment.
      const env = round % 2 === 0 ? { JSONL_JOURNAL_KILL_POINT: `mid-write:${1 + (round % 7)}` } : {};
      const v = new Child('writer.mjs', [file, `v${round}`, '4'], env);
      victims.push(v);
      if (round % 2 === 0) {
        await v.exited;
      } else {
        await v.waitFor((l) => l.startsWith('ack'));
        await sleep(Math.random() * 30);
        await v.kill('SIGKILL');
      }
      if (round % 10 === 9) expect((await verify(file)).corrupt).toEqual([]);
    }
    await Promise.all(steady.map((s) => s.kill('SIGKILL')));
    // Every victim died by SIGKILL; the even rounds with half a batch on disk, a torn tail that
    // whichever writer took the lock next had to cut before appending.
    expect(victims.every((v) => v.proc.signalCode === 'SIGKILL')).toBe(true);
    await (await Journal.open(file)).close();
    expect(await verify(file)).toMatchObject({ ok: true, corrupt: [] });
    const ack = acked([...steady, ...victims]);
    expect(ack.size).toBeGreaterThan(1000);
    await checkJournal(file, ack);
  }, 180_000);

  it('a writer learns other writers’ seqs by reading only the bytes they appended', async () => {
    const file = tmpJournal();
    const a = await Journal.open(file, { durability: 'unsafe-nosync' });
    const b = await Journal.open(file, { durability: 'unsafe-nosync' });
    for (let i = 0; i < 50; i++) await a.appendMany(Array.from({ length: 1000 }, (_, k) => ({ i, k, pad: 'x'.repeat(50) })));
    await b.append('from b');
    let bytesRead = 0;
    hookIo('read', (orig) => async (fd, buf, off, len, pos) => {
      const n = await orig(fd, buf, off, len, pos);
      bytesRead += n;
      return n;
    });
    hookIo('readSync', (orig) => (fd, buf, off, len, pos) => {
      const n = orig(fd, buf, off, len, pos);
      bytesRead += n;
      return n;
    });
    const size = fs.statSync(file).size;
    expect(size).toBeGreaterThan(4_000_000);
    expect((await a.append('from a')).seq).toBe(50_002);
    // b's one record, not the 4 MB before it.
    expect(bytesRead).toBeGreaterThan(0);
    expect(bytesRead).toBeLessThan(1000);
    await a.close();
    await b.close();
  });

  it('a writer that took the lock on a replaced file reopens the new one: no record lands in the old inode', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany(['a', 'b', 'c']);
    // The "compactor" holds the lock while the writer's append waits for it, then swaps the file.
    let appended!: Promise<unknown>;
    const oldFd = await replaceLikeCompactor(file, async () => {
      appended = j.append('during the swap');
      await sleep(100);
    });
    const r = await appended;
    expect(r).toMatchObject({ seq: 4 });
    const more = await j.append('after the swap');
    await j.close();
    expect(more.seq).toBe(5);
    const recs = await readAll(file);
    expect(recs.map((x) => x.data)).toEqual(['a', 'b', 'c', 'during the swap', 'after the swap']);
    expect(JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]!.slice(9)).generation).toBe(1);
    // The old inode, still open, holds exactly what it held before the swap.
    const oldBytes = Buffer.alloc(fs.fstatSync(oldFd).size);
    fs.readSync(oldFd, oldBytes, 0, oldBytes.length, 0);
    fs.closeSync(oldFd);
    expect(oldBytes.toString()).not.toContain('during the swap');
    expect(oldBytes.toString()).not.toContain('after the swap');
    expect((await verify(file)).ok).toBe(true);
  });

  it('a writer idle during a replacement appends to the new file on its next batch', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append('before');
    const oldFd = await replaceLikeCompactor(file);
    fs.closeSync(oldFd);
    expect(await j.append('after')).toMatchObject({ seq: 2 });
    await j.close();
    expect((await readAll(file)).map((r) => r.data)).toEqual(['before', 'after']);
  });

  it('verify and readers do not hold the writers’ lock while they read: appends go on meanwhile', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    for (let i = 0; i < 40; i++) await j.appendMany(Array.from({ length: 5000 }, (_, k) => ({ i, k, pad: 'v'.repeat(40) })));
    await j.flush();
    const writer = await Journal.open(file, { lockTimeoutMs: 500 });
    // The scans' reads (of 64 KiB and more; a writer reads a few KB) stop after their first ones
    // until the writer has appended: if verify or the reader held the lock, the appends would time
    // out waiting for it.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let scanReads = 0;
    hookIo('read', (orig) => async (fd, buf, off, len, pos) => {
      if (len >= 64 * 1024 && ++scanReads > 2) await gate;
      return orig(fd, buf, off, len, pos);
    });
    let verifying = true;
    const v = verify(file).finally(() => (verifying = false));
    const r = (async () => {
      let n = 0;
      for await (const _ of (await import('../src/index.js')).readJournal(file)) n++;
      return n;
    })();
    for (const t0 = Date.now(); scanReads <= 2; await sleep(5)) if (Date.now() - t0 > 10_000) throw new Error('the scans did not start');
    for (let i = 0; i < 5; i++) await writer.append({ during: i });
    expect(verifying).toBe(true);
    release();
    expect((await v).records).toBeGreaterThanOrEqual(200_000);
    expect(await r).toBeGreaterThanOrEqual(200_000);
    await writer.close();
    await j.close();
  });
});
