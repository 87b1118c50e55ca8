import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, Journal, readJournal, verify } from '../src/index.js';
import { bytesOf, flipByte, hookIo, readAll, tmpJournal, unseal } from './helpers.js';

/** Bytes of the seal a close leaves at the end of these small journals (offsets of 3 digits). */
const SEAL = 22;

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

async function journalOf(n: number): Promise<{ file: string; offsets: number[] }> {
  const file = tmpJournal();
  const j = await Journal.open(file);
  const offsets: number[] = [];
  for (let i = 1; i <= n; i++) offsets.push((await j.append({ n: i, body: `record number ${i}` })).offset);
  await j.close();
  return { file, offsets };
}

describe('damage before durable data', () => {
  it('a flipped byte in the middle is reported with its offset and line, and the reader throws CORRUPT there', async () => {
    const { file, offsets } = await journalOf(100);
    const at = offsets[49]!; // record 50, line 51
    flipByte(file, at + 30);
    const report = await verify(file);
    expect(report.ok).toBe(false);
    expect(report.tornTail).toBeNull();
    expect(report.corrupt).toEqual([{ offset: at, line: 51, reason: 'checksum mismatch' }]);
    expect(report.records).toBe(99);

    const seen: number[] = [];
    const err = await (async () => {
      try {
        for await (const r of (await import('../src/index.js')).readJournal(file)) seen.push(r.seq);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toMatchObject({ code: ErrorCode.CORRUPT, offset: at, line: 51 });
    expect(seen).toEqual(Array.from({ length: 49 }, (_, i) => i + 1));
  });

  it('verify reports the same damage on a Node without zlib.crc32, which checks every line on its own', async () => {
    // Where zlib.crc32 exists, verify checks runs of lines with one native CRC each and looks line
    // by line only into a run that does not add up; without it, every line is checked by itself.
    const { file, offsets } = await journalOf(3000);
    flipByte(file, offsets[20]! + 25);
    flipByte(file, offsets[21]! + 40, 0x10);
    flipByte(file, offsets[1500]! + 3); // in the checksum's hex digits
    fs.appendFileSync(file, bytesOf(file).subarray(offsets[10]!, offsets[12]! - 7)); // a torn tail
    const here = await verify(file);
    expect(here.corrupt.map((d) => d.offset)).toEqual([offsets[20], offsets[21], offsets[1500]]);
    expect(here.tornTail).not.toBeNull();
    const script = `
      import { createRequire } from 'node:module';
      createRequire(import.meta.url)('node:zlib').crc32 = undefined;
      const { verify } = await import(${JSON.stringify(path.join(ROOT, 'dist/index.js'))});
      if ((await import(${JSON.stringify(path.join(ROOT, 'dist/format/crc.js'))})).runCrcNative) throw new Error('runs are still checked at once');
      console.log(JSON.stringify(await verify(${JSON.stringify(file)})));`;
    const there = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
    expect(there).toEqual(JSON.parse(JSON.stringify(here)));
  });

  it('a line longer than maxLineBytes is damage wherever the reads happen to split the file', async () => {
    // Two 300 KB records: the first lies whole inside the first 512 KiB read, the second spans two reads.
    const file = tmpJournal();
    const j = await Journal.open(file);
    const big = await j.append('x'.repeat(300_000));
    const spanning = await j.append('y'.repeat(300_000));
    await j.append('small, after them');
    await j.close();
    expect(big.offset + 300_000).toBeLessThan(512 * 1024);
    expect(spanning.offset + 300_000).toBeGreaterThan(512 * 1024);
    const report = await verify(file, { maxLineBytes: 100_000 });
    expect(report.corrupt.map((d) => [d.offset, d.reason])).toEqual([[big.offset, 'line too long'], [spanning.offset, 'line too long']]);
    expect(report.records).toBe(1);
    expect((await readAll(file, { maxLineBytes: 100_000, corrupt: 'skip' })).map((r) => r.data)).toEqual(['small, after them']);
    expect((await verify(file)).ok).toBe(true);
  });

  it("with corrupt: 'skip' the reader reports the damage and yields every intact record", async () => {
    const { file, offsets } = await journalOf(100);
    flipByte(file, offsets[49]! + 12);
    const damage: unknown[] = [];
    const recs = await readAll(file, { corrupt: 'skip', onCorrupt: (d) => damage.push(d) });
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1).filter((s) => s !== 50));
    expect(damage).toEqual([{ offset: offsets[49], line: 51, reason: 'checksum mismatch' }]);
  });

  it("with corrupt: 'skip', last: N is the last N intact records, damage among them stepped over; without skip it throws", async () => {
    const { file, offsets } = await journalOf(100);
    flipByte(file, offsets[95]! + 12);
    const damage: unknown[] = [];
    const recs = await readAll(file, { last: 10, corrupt: 'skip', onCorrupt: (d) => damage.push(d) });
    expect(recs.map((r) => r.seq)).toEqual([90, 91, 92, 93, 94, 95, 97, 98, 99, 100]);
    expect(damage).toEqual([{ offset: offsets[95], line: 97, reason: 'checksum mismatch' }]);
    await expect(readAll(file, { last: 10 })).rejects.toMatchObject({ code: ErrorCode.CORRUPT });
  });

  it('open never cuts it: the bytes stay, appends go after them, and it is still reported', async () => {
    const { file, offsets } = await journalOf(100);
    flipByte(file, offsets[49]! + 20);
    const before = bytesOf(file);
    const j = await Journal.open(file);
    expect((await j.append('later')).seq).toBe(101);
    await j.close();
    expect(bytesOf(file).subarray(0, before.length).equals(before)).toBe(true);
    const report = await verify(file);
    expect(report.corrupt.map((d) => d.offset)).toEqual([offsets[49]]);
    expect(report.lastSeq).toBe(101);
  });

  it('damage in the second-to-last batch is vouched for by the last one: corruption, not a torn tail', async () => {
    const { file, offsets } = await journalOf(10);
    flipByte(file, offsets[8]! + 15);
    const report = await verify(file);
    expect(report.tornTail).toBeNull();
    expect(report.corrupt.map((d) => d.offset)).toEqual([offsets[8]]);
  });

  it('open reads only the tail no commit mark vouches for, not the whole file', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    for (let i = 0; i < 20; i++) await j.appendMany(Array.from({ length: 1000 }, (_, k) => ({ i, k, pad: 'p'.repeat(40) })));
    await j.close();
    const size = fs.statSync(file).size;
    let bytesRead = 0;
    hookIo('read', (orig) => async (fd, buf, off, len, pos) => {
      const n = await orig(fd, buf, off, len, pos);
      bytesRead += n;
      return n;
    });
    const j2 = await Journal.open(file);
    await j2.close();
    expect(size).toBeGreaterThan(1_000_000);
    // The header, the backward search for the last commit line, and the last batch.
    expect(bytesRead).toBeLessThan(size / 5);
  });

  it('a line whose checksum is right but whose data is not JSON (a faulty writer) is corruption: readers throw at it or skip it, verify --deep reports it', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const offsets = (await j.appendMany([{ n: 1 }, { n: 2 }, { n: 3 }])).map((r) => r.offset);
    await j.appendMany([{ n: 4 }, { n: 5 }]);
    await j.close();
    // {"n":2} becomes {"n";2}, and the line gets the checksum of what it now says.
    const buf = bytesOf(file);
    const at = buf.indexOf('{"n":2}', offsets[1]!) + 4;
    buf[at] = 0x3b;
    const { writeCrc } = await import('../src/format/frame.js');
    writeCrc(buf, offsets[1]!, buf.indexOf(0x0a, offsets[1]!));
    fs.writeFileSync(file, buf);
    const seen: number[] = [];
    const err = await (async () => {
      for await (const r of readJournal(file)) seen.push(r.seq);
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.CORRUPT, offset: offsets[1] });
    expect(seen).toContain(1);
    expect(seen).not.toContain(2);
    const damage: number[] = [];
    const skipped = await readAll(file, { corrupt: 'skip', onCorrupt: (d) => damage.push(d.offset) });
    expect(skipped.map((r) => r.seq)).toEqual([1, 3, 4, 5]);
    expect(damage).toEqual([offsets[1]]);
    // verify trusts a checksum unless asked to parse the data too.
    expect((await verify(file, { deep: true })).corrupt.map((d) => d.offset)).toEqual([offsets[1]]);
  });

  it('a deleted line inside a batch is caught by the commit count', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const g = await j.appendMany(['a', 'b', 'c', 'd']);
    await j.append('e');
    await j.close();
    const b = bytesOf(file);
    fs.writeFileSync(file, Buffer.concat([b.subarray(0, g[1]!.offset), b.subarray(g[2]!.offset)]));
    const report = await verify(file);
    // The seal the close left now stands a line's length before the offset it names.
    expect(report.corrupt.map((d) => d.reason)).toEqual([
      'commit mark counts 4 records but its batch has 3', expect.stringMatching(/^a seal naming offset \d+, not its own$/),
    ]);
  });

  it('lines removed from the start of the last batch: its own commit mark says the batch was durable, so readers report corruption as open does', async () => {
    // Found by the reader fuzz: with no batch after it, nothing else vouched for the damage, and
    // readers ended quietly at a "torn tail" holding every record, which the next writer would cut.
    const file = tmpJournal();
    const j = await Journal.open(file);
    const first = await j.append('gone');
    const g = await j.appendMany(['lost', 'b', 'c', 'd', 'e']);
    await j.close();
    // As a crash right after the batch's fdatasync left it: no seal vouches for it either.
    unseal(file);
    const b = bytesOf(file);
    fs.writeFileSync(file, Buffer.concat([b.subarray(0, first.offset), b.subarray(g[1]!.offset)]));
    const size = fs.statSync(file).size;
    const report = await verify(file);
    expect(report.tornTail).toBeNull();
    expect(report.corrupt).toHaveLength(1);
    expect(report.corrupt[0]!.reason).toMatch(/commit mark counts 5 records but its batch has 4/);
    await expect(readAll(file)).rejects.toMatchObject({ code: ErrorCode.CORRUPT, offset: report.corrupt[0]!.offset });
    await expect(Journal.open(file)).rejects.toMatchObject({ code: ErrorCode.CORRUPT });
    expect(fs.statSync(file).size).toBe(size);
  });

  it('a duplicated line is reported, and skipping yields each record once', async () => {
    const { file, offsets } = await journalOf(6);
    const b = bytesOf(file);
    const line = b.subarray(offsets[2]!, offsets[3]!);
    fs.writeFileSync(file, Buffer.concat([b.subarray(0, offsets[3]!), line, b.subarray(offsets[3]!)]));
    const report = await verify(file);
    expect(report.corrupt).toEqual([
      { offset: offsets[3], line: 5, reason: 'seq 3 does not follow seq 3' },
      { offset: b.length + line.length - SEAL, line: 9, reason: `a seal naming offset ${b.length - SEAL}, not its own` },
    ]);
    const recs = await readAll(file, { corrupt: 'skip' });
    expect(recs.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
