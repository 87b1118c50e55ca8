import { describe, expect, it } from 'vitest';
import { recordSizeBound } from '../src/format/batch.js';
import { ErrorCode, Journal } from '../src/index.js';
import { bytesOf, readAll, tmpJournal } from './helpers.js';

const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;

const invalid: Array<[string, unknown]> = [
  ['undefined', undefined],
  ['a function', () => 1],
  ['a symbol', Symbol('s')],
  ['a cycle', cyclic],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['undefined inside an object', { a: 1, b: undefined }],
  ['a function inside an array', [1, () => 2]],
  ['-Infinity deep inside', { a: [[Number.NEGATIVE_INFINITY]] }],
];

/** A journal with two records, its bytes, and a check that a rejected call left it untouched and usable. */
async function setup(opts?: Parameters<typeof Journal.open>[1]) {
  const file = tmpJournal();
  const j = await Journal.open(file, opts);
  await j.append({ before: 1 });
  await j.appendMany([{ before: 2 }, { before: 3 }]);
  const before = bytesOf(file);
  return {
    file,
    j,
    async untouchedAndUsable() {
      expect(bytesOf(file).equals(before)).toBe(true);
      expect((await j.append({ after: true })).seq).toBe(4);
      await j.close();
      expect((await readAll(file)).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    },
  };
}

describe('bad input gets a typed error and writes nothing', () => {
  it.each(invalid)('append of %s: INVALID_VALUE', async (_name, value) => {
    const s = await setup();
    await expect(s.j.append(value)).rejects.toMatchObject({ name: 'JournalError', code: ErrorCode.INVALID_VALUE });
    await s.untouchedAndUsable();
  });

  it.each(invalid)('appendMany with %s among valid values: INVALID_VALUE naming its index, none appended', async (_name, value) => {
    const s = await setup();
    await expect(s.j.appendMany([{ ok: 1 }, value, { ok: 3 }])).rejects.toMatchObject({
      code: ErrorCode.INVALID_VALUE, index: 1, message: expect.stringContaining('[1]'),
    });
    await s.untouchedAndUsable();
  });

  it('a record over maxRecordBytes: RECORD_TOO_LARGE', async () => {
    const s = await setup({ maxRecordBytes: 4096 });
    await expect(s.j.append({ big: 'x'.repeat(5000) })).rejects.toMatchObject({ code: ErrorCode.RECORD_TOO_LARGE });
    await expect(s.j.appendMany([{ small: 1 }, { big: 'x'.repeat(5000) }])).rejects.toMatchObject({ code: ErrorCode.RECORD_TOO_LARGE });
    await s.untouchedAndUsable();
  });

  it('the default limit admits a 16 MB-ish record but not a larger one', async () => {
    const s = await setup();
    await expect(s.j.append('x'.repeat(16 * 1024 * 1024))).rejects.toMatchObject({ code: ErrorCode.RECORD_TOO_LARGE });
    await s.untouchedAndUsable();
    // The largest string the default admits (its line, framing and commit mark included, is 16 MiB) goes in and reads back.
    const biggest = 'y'.repeat(16 * 1024 * 1024 - recordSizeBound(2));
    const j = await Journal.open(s.file);
    await expect(j.append(biggest + 'y')).rejects.toMatchObject({ code: ErrorCode.RECORD_TOO_LARGE });
    const { seq } = await j.append(biggest);
    await j.close();
    const back = (await readAll(s.file)).find((r) => r.seq === seq);
    expect(back?.data === biggest).toBe(true);
  });

  it('an appendMany group over maxPendingBytes: RECORD_TOO_LARGE', async () => {
    const s = await setup({ maxRecordBytes: 2048, maxPendingBytes: 64 * 1024 });
    await expect(s.j.appendMany(Array.from({ length: 100 }, () => 'y'.repeat(1000)))).rejects.toMatchObject({ code: ErrorCode.RECORD_TOO_LARGE });
    await s.untouchedAndUsable();
  });

  it('append and appendMany after close: CLOSED; close twice is fine', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append(1);
    await j.close();
    const before = bytesOf(file);
    await expect(j.append(2)).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await expect(j.appendMany([2])).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await j.close();
    expect(bytesOf(file).equals(before)).toBe(true);
  });

  it('appendMany of nothing appends nothing', async () => {
    const s = await setup();
    expect(await s.j.appendMany([])).toEqual([]);
    await s.untouchedAndUsable();
  });

  it('misuse of the API is a TypeError or RangeError', async () => {
    const file = tmpJournal();
    await expect(Journal.open('')).rejects.toBeInstanceOf(TypeError);
    await expect(Journal.open(file, { durability: 'sometimes' as never })).rejects.toBeInstanceOf(TypeError);
    await expect(Journal.open(file, { syncIntervalMs: 10 })).rejects.toBeInstanceOf(TypeError);
    await expect(Journal.open(file, { maxBatchBytes: -1 })).rejects.toBeInstanceOf(RangeError);
    const j = await Journal.open(file);
    await expect(j.appendMany('abc' as never)).rejects.toBeInstanceOf(TypeError);
    await j.close();
  });
});
