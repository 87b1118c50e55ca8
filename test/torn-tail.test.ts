import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Journal, verify } from '../src/index.js';
import { appendBytes, bytesOf, readAll, tmpJournal, truncateTo, unseal } from './helpers.js';

/**
 * A journal of `singles` separate batches of one record, then optionally one appendMany group, as
 * a crash right after the last batch's fdatasync leaves it: closed, its seal cut (seals.test.ts
 * has what damage does to a sealed journal).
 */
async function build(singles: number, group: unknown[] = []): Promise<{ file: string; groupStart: number; lastStart: number }> {
  const file = tmpJournal();
  const j = await Journal.open(file);
  let lastStart = 0;
  for (let i = 1; i <= singles; i++) lastStart = (await j.append({ n: i, pad: 'x'.repeat(i) })).offset;
  let groupStart = fs.statSync(file).size;
  if (group.length > 0) groupStart = (await j.appendMany(group))[0]!.offset;
  await j.close();
  unseal(file);
  return { file, groupStart, lastStart };
}

/** Opens, appends one record, closes: the torn tail must have been cut and the record read back. */
async function reopenAndAppend(file: string, expectSeq: number, expectCutTo: number): Promise<void> {
  const j = await Journal.open(file);
  expect(fs.statSync(file).size).toBe(expectCutTo);
  expect((await j.append('after')).seq).toBe(expectSeq);
  await j.close();
  const recs = await readAll(file);
  expect(recs.at(-1)).toMatchObject({ seq: expectSeq, data: 'after' });
  expect((await verify(file)).ok).toBe(true);
}

describe('torn tail', () => {
  it('at every byte offset of the last line: readers yield the complete records, open cuts it, the next append reads back', async () => {
    const { file, lastStart } = await build(5);
    const whole = bytesOf(file);
    for (let cut = lastStart; cut < whole.length; cut++) {
      fs.writeFileSync(file, whole.subarray(0, cut));
      const recs = await readAll(file);
      expect(recs.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
      const report = await verify(file);
      expect(report.corrupt).toEqual([]);
      expect(report.tornTail).toEqual(cut === lastStart ? null : { offset: lastStart, bytes: cut - lastStart, foreign: 0 });
      await reopenAndAppend(file, 5, lastStart);
    }
  });

  it('at every byte offset of the last appendMany group: none of the group is ever yielded', async () => {
    const { file, groupStart } = await build(2, [{ g: 1 }, { g: 2, s: 'ünïcödé' }, { g: 3 }]);
    const whole = bytesOf(file);
    for (let cut = groupStart; cut < whole.length; cut++) {
      fs.writeFileSync(file, whole.subarray(0, cut));
      expect((await readAll(file)).map((r) => r.seq)).toEqual([1, 2]);
      expect((await verify(file)).tornTail).toEqual(cut === groupStart ? null : { offset: groupStart, bytes: cut - groupStart, foreign: 0 });
      await reopenAndAppend(file, 3, groupStart);
    }
    fs.writeFileSync(file, whole);
    expect((await readAll(file)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  const leftovers: Array<[string, () => Buffer]> = [
    ['zeros', () => Buffer.alloc(8192)],
    ['zeros with newlines', () => Buffer.from('\0\0\0\n\0\0\n\n\0')],
    ['random garbage with newlines', () => {
      const b = Buffer.alloc(5000);
      for (let i = 0; i < b.length; i++) b[i] = (i * 7919 + 13) % 251;
      for (let i = 0; i < b.length; i += 97) b[i] = 0x0a;
      return b;
    }],
    ['a stale copy of an earlier line', () => Buffer.from('')],
  ];

  it.each(leftovers)('%s after the last batch are cut and never read as records', async (name, make) => {
    const { file } = await build(3);
    const size = fs.statSync(file).size;
    const junk = name.startsWith('a stale copy') ? bytesOf(file).subarray(size - 60) : make();
    appendBytes(file, junk);
    expect((await readAll(file)).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect((await verify(file)).tornTail).toEqual({ offset: size, bytes: junk.length, foreign: 0 });
    await reopenAndAppend(file, 4, size);
  });

  it('a prefix of the last batch followed by zeros is cut as a whole', async () => {
    const { file, groupStart } = await build(1, Array.from({ length: 30 }, (_, i) => ({ i, text: 'lorem ipsum dolor sit amet' })));
    const whole = bytesOf(file);
    const keep = groupStart + Math.floor((whole.length - groupStart) / 2);
    fs.writeFileSync(file, Buffer.concat([whole.subarray(0, keep), Buffer.alloc(4096)]));
    expect((await readAll(file)).map((r) => r.seq)).toEqual([1]);
    await reopenAndAppend(file, 2, groupStart);
  });

  it('a garbled 512-byte sector inside the last batch, with its commit line intact, is a torn tail, not corruption', async () => {
    // The batch was written but its fdatasync never finished: no later commit mark vouches for it.
    const { file, groupStart } = await build(2, Array.from({ length: 40 }, (_, i) => ({ i, text: 'the quick brown fox' })));
    const b = bytesOf(file);
    const sector = Math.ceil((groupStart + 600) / 512) * 512;
    b.fill(0, sector, sector + 512);
    fs.writeFileSync(file, b);
    expect((await readAll(file)).map((r) => r.seq)).toEqual([1, 2]);
    const report = await verify(file);
    expect(report.corrupt).toEqual([]);
    expect(report.tornTail).toEqual({ offset: groupStart, bytes: b.length - groupStart, foreign: 0 });
    await reopenAndAppend(file, 3, groupStart);
  });

  it('a line without its newline at the end is torn even when its checksum holds', async () => {
    const { file, lastStart } = await build(3);
    truncateTo(file, fs.statSync(file).size - 1);
    expect((await readAll(file)).map((r) => r.seq)).toEqual([1, 2]);
    await reopenAndAppend(file, 3, lastStart);
  });
});
