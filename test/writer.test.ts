import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, Journal, verify } from '../src/index.js';
import { countIo, hookIo, readAll, sleep, tmpDir, tmpJournal } from './helpers.js';

describe('group commit', () => {
  it('10,000 concurrent appends: seqs 1..10000, all read back, far fewer fdatasyncs than records', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const syncs = countIo('fdatasync');
    const receipts = await Promise.all(Array.from({ length: 10_000 }, (_, i) => j.append({ i })));
    await j.close();
    expect(receipts.map((r) => r.seq)).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
    const recs = await readAll(file);
    expect(recs.map((r) => (r.data as { i: number }).i)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(syncs.n).toBeLessThan(10);
  });

  it('100 producers each awaiting 100 appends share fdatasyncs: batches form while a sync is in flight', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const syncs = countIo('fdatasync');
    const got: number[][] = [];
    await Promise.all(Array.from({ length: 100 }, async (_, p) => {
      const mine: number[] = [];
      for (let k = 0; k < 100; k++) mine.push((await j.append({ p, k })).seq);
      got.push(mine);
    }));
    await j.close();
    const all = got.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
    for (const mine of got) expect(mine).toEqual([...mine].sort((a, b) => a - b));
    expect(syncs.n).toBeLessThan(10_000 / 20);
    expect((await verify(file)).ok).toBe(true);
  });

  it('one write per batch, never one per record', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const writes = countIo('writeSync');
    await Promise.all(Array.from({ length: 500 }, (_, i) => j.append(i)));
    expect(writes.n).toBe(1);
    await j.close();
    expect(writes.n).toBe(2); // and the seal
  });

  it('an append made while a batch is syncing goes into the next batch', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    hookIo('fdatasync', (orig) => async (fd) => {
      if (first) {
        first = false;
        await gate;
      }
      return orig(fd);
    });
    const a = j.append('a');
    await sleep(20);
    const b = j.append('b');
    const c = j.append('c');
    release();
    expect((await a).seq).toBe(1);
    expect([(await b).seq, (await c).seq]).toEqual([2, 3]);
    await j.close();
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"commit"'));
    expect(lines.map((l) => JSON.parse(l.slice(9)).commit)).toEqual([1, 2]);
  });
});

describe('durability modes', () => {
  it("'interval' acknowledges before syncing and syncs in the background within the interval", async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'interval', syncIntervalMs: 50 });
    const syncs = countIo('fdatasync');
    await Promise.all(Array.from({ length: 100 }, (_, i) => j.append(i)));
    expect(syncs.n).toBe(0);
    await sleep(150);
    expect(syncs.n).toBe(1);
    await j.append('last');
    await j.close();
    // The sync of 'last', then the seal's: a seal is written only after every byte before it is durable.
    expect(syncs.n).toBe(3);
  });

  it("'unsafe-nosync' never syncs on its own, and flush() makes it durable on demand", async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    const syncs = countIo('fdatasync');
    for (let i = 0; i < 50; i++) await j.append(i);
    expect(syncs.n).toBe(0);
    await j.flush();
    expect(syncs.n).toBe(1);
    await j.close();
    expect(syncs.n).toBe(1);
    expect(await readAll(file)).toHaveLength(50);
  });

  it("'always' acknowledges only after an fdatasync that started after the write", async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const events: string[] = [];
    hookIo('writeSync', (orig) => (...a) => (events.push('write'), orig(...a)));
    hookIo('fdatasync', (orig) => async (fd) => {
      events.push('sync-start');
      await orig(fd);
      events.push('sync-end');
    });
    await j.append('x').then(() => events.push('ack'));
    expect(events).toEqual(['write', 'sync-start', 'sync-end', 'ack']);
    await j.close();
  });
});

describe('backpressure', () => {
  it('append waits instead of queueing more than maxPendingBytes', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { maxPendingBytes: 64 * 1024, maxRecordBytes: 4096 });
    const batchBytes: number[] = [];
    hookIo('writeSync', (orig) => (fd, buf, off, len, pos) => (batchBytes.push(len), orig(fd, buf, off, len, pos)));
    hookIo('fdatasync', (orig) => async (fd) => (await sleep(5), orig(fd)));
    const all = Array.from({ length: 2000 }, (_, i) => j.append({ i, pad: 'z'.repeat(200) }));
    const receipts = await Promise.all(all);
    await j.close();
    expect(receipts.map((r) => r.seq)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    expect(batchBytes.length).toBeGreaterThan(5);
    for (const b of batchBytes) expect(b).toBeLessThanOrEqual(64 * 1024);
  });
});

describe('creation', () => {
  it('creates the journal with its header, and the directory entry is fsynced', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'new.jsonl');
    const dirSyncs = countIo('fsyncDir');
    const j = await Journal.open(file);
    await j.close();
    expect(dirSyncs.n).toBe(1);
    const first = fs.readFileSync(file, 'utf8').split('\n')[0]!;
    expect(JSON.parse(first.slice(9))).toMatchObject({ format: 'jsonl-journal', version: 2, generation: 0, maxSeq: 0 });
    expect(fs.readdirSync(dir)).toEqual(['new.jsonl']);
  });

  it('with create: false a missing journal is NOT_FOUND and nothing is created', async () => {
    const file = tmpJournal();
    await expect(Journal.open(file, { create: false })).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    expect(fs.existsSync(file)).toBe(false);
  });

  it('opening a file that is not a journal is NOT_A_JOURNAL and leaves it alone', async () => {
    const file = tmpJournal('notes.txt');
    fs.writeFileSync(file, 'dear diary\n');
    await expect(Journal.open(file)).rejects.toMatchObject({ code: ErrorCode.NOT_A_JOURNAL });
    expect(fs.readFileSync(file, 'utf8')).toBe('dear diary\n');
    fs.writeFileSync(file, '');
    await expect(Journal.open(file)).rejects.toMatchObject({ code: ErrorCode.NOT_A_JOURNAL });
    await expect(Journal.open(tmpDir())).rejects.toMatchObject({ code: ErrorCode.NOT_A_JOURNAL });
  });

  it('a temp file left by a crashed creation is removed on the next open; a live or brand-new one is not', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'j.jsonl');
    const stale = path.join(dir, '.j.jsonl.create-0123456789ab.tmp');
    fs.writeFileSync(stale, 'half a header');
    const live = path.join(dir, '.j.jsonl.compact-ba9876543210.tmp');
    fs.writeFileSync(live, 'being written');
    const fresh = path.join(dir, '.j.jsonl.create-fedcba987654.tmp');
    fs.writeFileSync(fresh, 'just created, not locked yet');
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(stale, past, past);
    fs.utimesSync(live, past, past);
    const fd = fs.openSync(live, 'r');
    const { flockSync } = (await import('fs-ext')).default;
    flockSync(fd, 'exnb');
    const j = await Journal.open(file);
    await j.close();
    expect(fs.readdirSync(dir).sort()).toEqual(['.j.jsonl.compact-ba9876543210.tmp', '.j.jsonl.create-fedcba987654.tmp', 'j.jsonl']);
    fs.closeSync(fd);
  });
});

describe('restoring: records that keep their seqs, journals that keep their identity', () => {
  it('appendRecords keeps seqs (gaps allowed) and timestamps, and appends continue after them', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { identity: { id: 'copy-of-42', created: 1700000000000 } });
    expect(j.id).toBe('copy-of-42');
    const r = await j.appendRecords([{ seq: 3, ts: 111, data: 'a' }, { seq: 7, ts: 222, data: { b: 1 } }]);
    expect(r.map((x) => x.seq)).toEqual([3, 7]);
    expect((await j.append('next')).seq).toBe(8);
    await j.close();
    expect((await readAll(file)).map((x) => [x.seq, x.ts, x.data])).toEqual([[3, 111, 'a'], [7, 222, { b: 1 }], [8, expect.any(Number), 'next']]);
    expect(JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]!.slice(9))).toMatchObject({ id: 'copy-of-42', created: 1700000000000 });
    expect((await verify(file)).ok).toBe(true);
  });

  it('a seq not above the last one: SEQ_CONFLICT, nothing written, the journal usable', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany([1, 2, 3]);
    const size = fs.statSync(file).size;
    await expect(j.appendRecords([{ seq: 3, ts: 1, data: 'dup' }])).rejects.toMatchObject({ code: ErrorCode.SEQ_CONFLICT });
    expect(fs.statSync(file).size).toBe(size);
    await expect(j.appendRecords([{ seq: 9, ts: 1, data: 'x' }, { seq: 9, ts: 1, data: 'y' }])).rejects.toBeInstanceOf(RangeError);
    await expect(j.appendRecords([{ seq: 10, ts: -1, data: 'x' }])).rejects.toBeInstanceOf(RangeError);
    await expect(j.appendRecords([{ seq: 10, ts: 1, data: undefined }])).rejects.toMatchObject({ code: ErrorCode.INVALID_VALUE });
    expect((await j.appendRecords([{ seq: 10, ts: 5, data: 'ok' }]))[0]!.seq).toBe(10);
    expect((await j.append('after')).seq).toBe(11);
    await j.close();
  });
});
