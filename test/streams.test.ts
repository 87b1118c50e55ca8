// journal.createWriteStream() under Node's stream contract: pipeline(), backpressure, errors,
// destroy in the middle of a write, and what is durable when a write's callback fires.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { ErrorCode, Journal } from '../src/index.js';
import { hookIo, readAll, sleep, tmpJournal } from './helpers.js';

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
