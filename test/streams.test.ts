// journal.createWriteStream() under Node's stream contract: pipeline(), backpressure, errors,
// destroy in the middle of a write, and what is durable when a write's callback fires.
import fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createFollowStream, createReadStream, ErrorCode, Journal, type JournalRecord } from '../src/index.js';
import { flipByte, hookIo, readAll, sleep, tmpJournal } from './helpers.js';

const seqsOf = async (file: string) => (await readAll(file)).map((r) => r.data);

describe('journal.createWriteStream()', () => {
  it('pipeline() of 10,000 records: each once, in order, many records to each sync', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    let syncs = 0;
    hookIo('fdatasync', (orig) => async (fd) => {
      syncs++;
      return orig(fd);
    });
    await pipeline(Readable.from(Array.from({ length: 10_000 }, (_, i) => ({ i }))), j.createWriteStream());
    expect((await seqsOf(file)).map((d) => (d as { i: number }).i)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(syncs).toBeLessThan(10_000 / 10);
    await j.close();
  });

  it('a write\'s callback fires only after a sync that began after its record was written', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    let written = 0;
    let synced = 0;
    // A batch is written with write or, when small, writeSync.
    hookIo('write', (orig) => async (...args) => {
      const n = await orig(...args);
      written++;
      return n;
    });
    hookIo('writeSync', (orig) => (...args) => {
      const n = orig(...args);
      written++;
      return n;
    });
    hookIo('fdatasync', (orig) => async (fd) => {
      const covers = written;
      await orig(fd);
      synced = Math.max(synced, covers);
    });
    const s = j.createWriteStream();
    for (let i = 0; i < 20; i++) {
      const seen = await new Promise<{ synced: number; written: number }>((resolve, reject) => s.write({ i }, (err) => {
        if (err) reject(err);
        else resolve({ synced, written });
      }));
      // Every write so far, this record's among them, is covered by a finished sync.
      expect(seen.written).toBeGreaterThan(i);
      expect(seen.synced).toBe(seen.written);
    }
    s.end();
    await j.close();
    expect(await seqsOf(file)).toHaveLength(20);
  });

  it('backpressure: write() returns false past highWaterMark, drain follows, and nothing is lost', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    hookIo('fdatasync', (orig) => async (fd) => {
      await sleep(30);
      return orig(fd);
    });
    const s = j.createWriteStream({ highWaterMark: 4 });
    const accepted: boolean[] = [];
    for (let i = 0; i < 10; i++) accepted.push(s.write(i));
    expect(accepted.slice(0, 3)).toEqual([true, true, true]);
    expect(accepted.at(-1)).toBe(false);
    await new Promise((r) => s.once('drain', r));
    await new Promise<void>((r) => s.end(r));
    expect(await seqsOf(file)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    await j.close();
  });

  it('a value the journal refuses fails its group with a typed error: none of the group is written, all acknowledged before it stays', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const s = j.createWriteStream();
    await new Promise((r) => s.write('a', r));
    await new Promise((r) => s.write('b', r));
    const failed = new Promise<unknown>((r) => s.once('error', r));
    // Corked, the three go to the journal together, as one group.
    s.cork();
    s.write('c');
    s.write(Number.POSITIVE_INFINITY);
    s.write('d');
    s.uncork();
    expect(await failed).toMatchObject({ code: ErrorCode.INVALID_VALUE });
    expect(await seqsOf(file)).toEqual(['a', 'b']);
    // The journal itself goes on.
    await j.append('e');
    expect(await seqsOf(file)).toEqual(['a', 'b', 'e']);
    await j.close();
  });

  it('destroyed in the middle of a write: the append in flight settles before close, the records written are a prefix, the journal goes on', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    hookIo('fdatasync', (orig) => async (fd) => {
      await sleep(20);
      return orig(fd);
    });
    const s = j.createWriteStream();
    for (let i = 0; i < 100; i++) s.write(i);
    await sleep(5);
    s.destroy();
    await new Promise((r) => s.once('close', r));
    const got = await seqsOf(file);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i));
    expect(s.write(1000, () => {})).toBe(false);
    expect((await j.append('after')).seq).toBe(got.length + 1);
    await j.close();
  });

  it('pipeline cleanup: a source that fails half way rejects pipeline and destroys the stream; what was acknowledged stays', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const s = j.createWriteStream();
    async function* source() {
      for (let i = 0; i < 50; i++) yield i;
      throw new Error('source broke');
    }
    await expect(pipeline(source(), s)).rejects.toThrow('source broke');
    expect(s.destroyed).toBe(true);
    const got = await seqsOf(file);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i));
    await j.close();
  });

  it('an aborted signal destroys the stream with an AbortError; a closed journal fails its writes with CLOSED', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const ac = new AbortController();
    const s = j.createWriteStream({ signal: ac.signal });
    const err = new Promise<unknown>((r) => s.once('error', r));
    ac.abort();
    expect(await err).toMatchObject({ name: 'AbortError' });
    const s2 = j.createWriteStream();
    await j.close();
    const err2 = new Promise<unknown>((r) => s2.once('error', r));
    s2.write('late');
    expect(await err2).toMatchObject({ code: ErrorCode.CLOSED });
    expect(() => j.createWriteStream({ highWaterMark: 0 })).toThrow(RangeError);
  });
});

/** A Writable that keeps what it is given. */
function sink(): Writable & { got: JournalRecord[] } {
  const got: JournalRecord[] = [];
  return Object.assign(new Writable({ objectMode: true, write: (r: JournalRecord, _e, cb) => (got.push(r), cb()) }), { got });
}

const fds = () => fs.readdirSync('/proc/self/fd').length;

describe('createReadStream() and createFollowStream()', () => {
  it('pipeline() of a journal\'s records, in order; reading pauses at highWaterMark', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    for (let b = 0; b < 10; b++) await j.appendMany(Array.from({ length: 100 }, (_, i) => b * 100 + i));
    await j.close();
    const out = sink();
    await pipeline(createReadStream(file), out);
    expect(out.got.map((r) => r.data)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(out.got.map((r) => r.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    // Nobody reads: it stops pulling at its highWaterMark, not at the end of the journal.
    const paused = createReadStream(file, { highWaterMark: 3 });
    expect(paused.readableHighWaterMark).toBe(3);
    // A 'readable' listener makes it fill its buffer, without taking anything from it.
    paused.on('readable', () => {});
    for (const t0 = Date.now(); paused.readableLength === 0; await sleep(5)) if (Date.now() - t0 > 5_000) throw new Error('nothing read');
    await sleep(50);
    expect(paused.readableLength).toBeLessThanOrEqual(3);
    paused.destroy();
    await new Promise((r) => paused.once('close', r));
  });

  it('destroyed half way, it closes the file; damage is an error event after the records before it', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const receipts = [];
    for (let i = 0; i < 50; i++) receipts.push(await j.append({ i }));
    await j.close();
    const before = fds();
    const s = createReadStream(file, { highWaterMark: 2 });
    const first = await new Promise<JournalRecord>((r) => s.once('data', r));
    expect(first.seq).toBe(1);
    s.destroy();
    await new Promise((r) => s.once('close', r));
    expect(fds()).toBe(before);
    flipByte(file, receipts[20]!.offset + 12);
    const out = sink();
    const err = await pipeline(createReadStream(file), out).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.CORRUPT });
    expect(out.got.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(fds()).toBe(before);
  });

  it('a follow stream delivers new records as they are appended, and an aborted signal ends it with an AbortError and no open file', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append('first');
    // The process's first directory watch opens libuv's inotify descriptor for good: warm it up.
    const warm = createFollowStream(file);
    await new Promise((r) => warm.once('data', r));
    warm.destroy();
    await new Promise((r) => warm.once('close', r));
    const before = fds();
    const ac = new AbortController();
    const s = createFollowStream(file, { signal: ac.signal, pollMs: 20 });
    const got: unknown[] = [];
    s.on('data', (r: JournalRecord) => got.push(r.data));
    const ended = new Promise<unknown>((r) => s.once('error', r));
    for (const t0 = Date.now(); got.length < 1; await sleep(10)) if (Date.now() - t0 > 10_000) throw new Error('no first record');
    await j.append('second');
    for (const t0 = Date.now(); got.length < 2; await sleep(10)) if (Date.now() - t0 > 10_000) throw new Error('no new record');
    ac.abort();
    expect(await ended).toMatchObject({ name: 'AbortError' });
    await new Promise((r) => (s.closed ? r(null) : s.once('close', r)));
    expect(got).toEqual(['first', 'second']);
    for (const t0 = Date.now(); fds() !== before; await sleep(10)) if (Date.now() - t0 > 5_000) break;
    expect(fds()).toBe(before);
    await j.close();
    expect(() => createReadStream(file, { highWaterMark: 0 })).toThrow(RangeError);
  });
});
