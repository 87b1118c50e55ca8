// The scan engine on its own (src/scan/): hand-built journals, read with every configuration its
// callers use, and damaged byte by byte. Readers, verify, writers and compaction all run this
// engine, so what is proven here holds for each of them.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeBatch, prepareRecord } from '../src/format/batch.js';
import { encodeHeader, newHeader } from '../src/format/header.js';
import { encodeSeal } from '../src/format/seal.js';
import { ErrorCode, isJournalError } from '../src/index.js';
import { JournalScan, type ScanOptions } from '../src/scan/scan.js';
import { findLine, seekSeq, seekTs } from '../src/scan/seek.js';
import { recoverTail, scanAppended } from '../src/scan/tail.js';
import { countIo, countReads, tmpJournal } from './helpers.js';

/** The length of the header of every journal build() makes. */
const HEADER_END = encodeHeader(newHeader({ id: 'scan-test', created: 0 })).length;

interface Built {
  file: string;
  bytes: Buffer;
  headerEnd: number;
  /** Offset of each record's line, by seq. */
  line: Map<number, number>;
  /** Start of each batch. */
  batches: number[];
}

/**
 * A journal of the given batches (each a list of values, seqs from 1 on). `synced(i, start)` is
 * the durable offset batch i's commit mark states; by default its own start, as after an fsync.
 */
function build(batches: unknown[][], synced: (i: number, start: number) => number = (_, start) => start): Built {
  const header = encodeHeader(newHeader({ id: 'scan-test', created: 0 }));
  const parts: Buffer[] = [header];
  const line = new Map<number, number>();
  const starts: number[] = [];
  let pos = header.length;
  let seq = 1;
  batches.forEach((values, i) => {
    const enc = encodeBatch(values.map((v) => prepareRecord(v, 1000 + seq)), seq, synced(i, pos));
    starts.push(pos);
    enc.offsets.forEach((o, k) => line.set(seq + k, pos + o));
    parts.push(enc.bytes);
    pos += enc.bytes.length;
    seq += values.length;
  });
  const file = tmpJournal();
  const bytes = Buffer.concat(parts);
  fs.writeFileSync(file, bytes);
  return { file, bytes, headerEnd: header.length, line, batches: starts };
}

interface Outcome {
  seqs: number[];
  corrupt: Array<[number, string]>;
  torn: { offset: number; bytes: number } | null;
  error: string | null;
  committedEnd: number;
  lastSeq: number;
}

/** Runs a JournalScan over the whole file (from the header's end unless `from` is given). */
async function scanFile(b: Built, o: Partial<ScanOptions> & { sync?: boolean } = {}): Promise<Outcome> {
  const fd = fs.openSync(b.file, 'r');
  const size = fs.fstatSync(fd).size;
  const seqs: number[] = [];
  const scan = new JournalScan(fd, {
    path: b.file, from: b.headerEnd, firstLine: 2, seals: true, onCorrupt: 'report', decode: 'data', ...o,
  });
  let error: string | null = null;
  let torn: { offset: number; bytes: number } | null = null;
  try {
    for (;;) {
      const n = o.sync === true ? scan.stepSync() : await scan.step();
      for (const r of scan.take()) seqs.push(r.seq);
      if (n === 0) break;
    }
    // Records a seal at the end vouches for are committed as the scan finishes.
    torn = scan.finish(Math.min(size, scan.pos));
    for (const r of scan.take()) seqs.push(r.seq);
  } catch (err) {
    error = isJournalError(err) ? `${err.code} at ${err.offset}` : String(err);
    for (const r of scan.take()) seqs.push(r.seq);
  } finally {
    await scan.settle();
    fs.closeSync(fd);
  }
  return { seqs, corrupt: scan.corrupt.map((d) => [d.offset, d.reason]), torn, error, committedEnd: scan.committedEnd, lastSeq: scan.lastSeq };
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const values = (n: number, size = 20) => Array.from({ length: n }, (_, i) => ({ i, pad: 'p'.repeat(size + (i % 7)) }));
/** Where the second batch of build([values(2), ...]) starts. */
const b1 = HEADER_END + encodeBatch(values(2).map((v, i) => prepareRecord(v, 1001 + i)), 1, HEADER_END).bytes.length;

function flip(b: Built, offset: number, mask = 0x01): void {
  const bytes = fs.readFileSync(b.file);
  bytes[offset] = bytes[offset]! ^ mask;
  fs.writeFileSync(b.file, bytes);
}

describe('committed batches', () => {
  it('a batch without its commit line is never handed out: what follows the last commit mark is a torn tail', async () => {
    const b = build([values(3), values(4)]);
    const cut = b.line.get(7)!; // the second batch's commit line
    fs.truncateSync(b.file, cut);
    const r = await scanFile(b);
    expect(r.seqs).toEqual([1, 2, 3]);
    expect(r.torn).toEqual({ offset: b.batches[1], bytes: cut - b.batches[1]!, foreign: 0 });
    expect(r.corrupt).toEqual([]);
  });

  it('damage a later commit mark vouches for is corruption: thrown with its offset, or reported with the records around it kept', async () => {
    const b = build([values(3), values(3), values(3)]);
    const damaged = b.line.get(5)!;
    flip(b, damaged + 20);
    expect((await scanFile(b, { onCorrupt: 'throw' })).error).toBe(`${ErrorCode.CORRUPT} at ${damaged}`);
    const r = await scanFile(b);
    expect(r.corrupt).toEqual([[damaged, 'checksum mismatch']]);
    expect(r.seqs).toEqual([1, 2, 3, 4, 6, 7, 8, 9]);
    expect(r.torn).toBeNull();
  });

  it('damage no later commit mark vouches for is a torn tail, even with intact batches after it', async () => {
    // Every commit mark states only the header as durable: nothing after it was known durable.
    const b = build([values(2), values(2), values(2)], () => HEADER_END);
    const damaged = b.line.get(3)!;
    flip(b, damaged + 15);
    const r = await scanFile(b);
    expect(r.seqs).toEqual([1, 2]);
    expect(r.corrupt).toEqual([]);
    expect(r.torn).toEqual({ offset: b.batches[1], bytes: b.bytes.length - b.batches[1]!, foreign: 0 });
  });

  it('a commit mark whose synced is exactly the damaged offset does not vouch for it: only bytes before it were durable', async () => {
    const b = build([values(2), values(2), values(2)], (i, start) => (i === 2 ? b1 : start));
    const damaged = b.line.get(3)!;
    expect(damaged).toBe(b1);
    flip(b, damaged + 15);
    const r = await scanFile(b);
    expect(r.corrupt).toEqual([]);
    expect(r.torn).toEqual({ offset: b.batches[1], bytes: b.bytes.length - b.batches[1]!, foreign: 0 });
    // One byte further, and it does.
    const c = build([values(2), values(2), values(2)], (i, start) => (i === 2 ? b1 + 1 : start));
    flip(c, damaged + 15);
    expect((await scanFile(c)).corrupt).toEqual([[damaged, 'checksum mismatch']]);
  });

  it('a seq that does not rise is damage at its line', async () => {
    const b = build([values(2), values(2), values(2)]);
    // Replace batch 2 with a copy of batch 1: its seqs do not rise, though every checksum holds.
    const copy = b.bytes.subarray(b.batches[0], b.batches[1]);
    const bytes = Buffer.from(b.bytes);
    copy.copy(bytes, b.batches[1]!);
    fs.writeFileSync(b.file, bytes);
    expect(b.batches[2]! - b.batches[1]!).toBe(copy.length);
    const r = await scanFile(b);
    expect(r.corrupt).toEqual([[b.batches[1], 'seq 1 does not follow seq 2'], [b.line.get(2)! - b.batches[0]! + b.batches[1]!, 'seq 2 does not follow seq 2']]);
    expect(r.seqs).toEqual([1, 2, 5, 6]);
  });

  it('a commit mark counting more records than its batch holds (a line cut out) is corruption once a commit mark vouches for the batch', async () => {
    const b = build([values(2), values(3), values(1)]);
    const gone = b.line.get(4)!;
    const bytes = Buffer.concat([b.bytes.subarray(0, gone), b.bytes.subarray(b.line.get(5)!)]);
    fs.writeFileSync(b.file, bytes);
    const r = await scanFile(b);
    expect(r.corrupt.map(([, why]) => why)).toEqual(['commit mark counts 3 records but its batch has 2']);
    expect(r.seqs).toEqual([1, 2, 3, 5, 6]);
  });

  it('a scan that starts inside a batch (after a seek) counts that batch short instead of calling it damage', async () => {
    const b = build([values(4), values(4)]);
    const r = await scanFile(b, { from: b.line.get(3)!, firstLine: null, midBatch: true });
    expect(r.seqs).toEqual([3, 4, 5, 6, 7, 8]);
    expect(r.corrupt).toEqual([]);
    const strict = await scanFile(b, { from: b.line.get(3)!, firstLine: null });
    expect(strict.corrupt).toEqual([[b.line.get(4), 'commit mark counts 4 records but its batch has 2']]);
  });
});

/** build() with a seal after the last batch, as a clean close leaves it; `at` is where the seal starts. */
function sealed(batches: unknown[][]): Built & { at: number } {
  const b = build(batches);
  const at = b.bytes.length;
  const bytes = Buffer.concat([b.bytes, encodeSeal(at)]);
  fs.writeFileSync(b.file, bytes);
  return { ...b, bytes, at };
}

describe('seals (format version 2)', () => {
  it('a seal commits no records and vouches for every byte before it: damage in the last batch is corruption', async () => {
    const b = sealed([values(2), values(3)]);
    const clean = await scanFile(b);
    expect(clean).toMatchObject({ seqs: [1, 2, 3, 4, 5], corrupt: [], torn: null, committedEnd: b.bytes.length, lastSeq: 5 });
    flip(b, b.line.get(4)! + 20);
    expect(await scanFile(b)).toMatchObject({ seqs: [1, 2, 3, 5], corrupt: [[b.line.get(4), 'checksum mismatch']], torn: null });
    expect((await scanFile(b, { onCorrupt: 'throw' })).error).toBe(`${ErrorCode.CORRUPT} at ${b.line.get(4)}`);
  });

  it('a seal in a version 1 journal is damage, not a seal', async () => {
    const b = sealed([values(2), values(1)]);
    expect(await scanFile(b, { seals: false })).toMatchObject({ seqs: [1, 2, 3], corrupt: [], torn: { offset: b.at, bytes: b.bytes.length - b.at, foreign: 0 } });
  });

  it('an intact seal naming another offset (bytes cut out before it) is corruption, never a torn tail', async () => {
    const b = sealed([values(2), values(2), values(1)]);
    const bytes = Buffer.concat([b.bytes.subarray(0, b.line.get(3)), b.bytes.subarray(b.batches[2])]);
    fs.writeFileSync(b.file, bytes);
    const r = await scanFile(b);
    expect(r.corrupt).toEqual([[bytes.length - (b.bytes.length - b.at), `a seal naming offset ${b.at}, not its own`]]);
    expect(r.torn).toBeNull();
  });

  it('any one byte of a final seal changed is corruption, but where the seal has 4 bytes or fewer in that 512-byte sector, which a crash can leave', async () => {
    // Journals of every size around a sector boundary, so that the seal straddles it at each byte.
    for (let pad = 0; pad < 40; pad++) {
      const b = sealed([values(3), [{ pad: 'p'.repeat(400 + pad) }]]);
      const clean = Buffer.from(b.bytes);
      for (let at = b.at; at < clean.length; at++) {
        const bytes = Buffer.from(clean);
        bytes[at] = bytes[at]! ^ 0x10;
        fs.writeFileSync(b.file, bytes);
        const r = await scanFile(b);
        const sector = at - (at % 512);
        const few = Math.min(clean.length, sector + 512) - Math.max(b.at, sector) <= 4;
        if (few) {
          expect(r.corrupt, `pad ${pad}, byte ${at}`).toEqual([]);
          expect(r.torn, `pad ${pad}, byte ${at}`).toEqual({ offset: b.at, bytes: clean.length - b.at, foreign: 0 });
        } else {
          expect(r.torn, `pad ${pad}, byte ${at}`).toBeNull();
          expect(r.corrupt.map(([o]) => o), `pad ${pad}, byte ${at}`).toEqual([b.at]);
          expect(r.seqs).toEqual([1, 2, 3, 4]);
        }
      }
    }
  });

  it('the newline before a final seal changed: the seal still proves the writer sealed there, so it is corruption', async () => {
    const b = sealed([values(2), values(2)]);
    flip(b, b.at - 1, 0x02);
    const r = await scanFile(b);
    expect(r.torn).toBeNull();
    expect(r.corrupt.map(([o]) => o)).toEqual([b.line.get(4)]);
    expect(r.seqs).toEqual([1, 2, 3]);
    expect((await scanFile(b, { onCorrupt: 'throw' })).error).toBe(`${ErrorCode.CORRUPT} at ${b.line.get(4)}`);
  });

  it('a seal a crash cut short, or a sector of it lost to zeros, is a torn tail', async () => {
    const b = sealed([values(2), values(2)]);
    for (let cut = b.at + 1; cut < b.bytes.length; cut++) {
      fs.writeFileSync(b.file, b.bytes.subarray(0, cut));
      expect(await scanFile(b), `cut at ${cut}`).toMatchObject({ corrupt: [], torn: { offset: b.at, bytes: cut - b.at }, seqs: [1, 2, 3, 4] });
    }
    const zeros = Buffer.from(b.bytes);
    zeros.fill(0, b.at + 3);
    fs.writeFileSync(b.file, zeros);
    expect(await scanFile(b)).toMatchObject({ corrupt: [], torn: { offset: b.at, bytes: b.bytes.length - b.at } });
  });

  it('lines another tool appended (plain JSON, no checksum) make a tail reported as foreign, not as a crash', async () => {
    const b = sealed([values(2)]);
    fs.appendFileSync(b.file, '{"manual":1}\n[1,2]\n');
    expect((await scanFile(b)).torn).toEqual({ offset: b.bytes.length, bytes: 19, foreign: 2 });
    fs.appendFileSync(b.file, '{"unfinished');
    expect((await scanFile(b)).torn).toEqual({ offset: b.bytes.length, bytes: 31, foreign: 0 });
  });
});

describe('chunked reads', () => {
  it('the verdict does not depend on where chunks end: every chunk size and mode gives the same records, damage and torn tail', async () => {
    const b = build(Array.from({ length: 60 }, (_, i) => values(1 + (i % 5), 10 + i * 3)));
    flip(b, b.line.get(20)! + 30);
    flip(b, b.line.get(21)! + 3); // a checksum digit
    flip(b, b.line.get(100)! + 12, 0x40);
    fs.appendFileSync(b.file, b.bytes.subarray(b.line.get(7)!, b.line.get(9)! - 5)); // a torn tail, lines and a half
    const want = await scanFile(b);
    expect(want.corrupt.map(([o]) => o)).toEqual([b.line.get(20), b.line.get(21), b.line.get(100)]);
    expect(want.torn).not.toBeNull();
    for (const chunkBytes of [4096, 4099, 7000, 65536, 512 * 1024]) {
      for (const readAhead of [false, true]) {
        for (const decode of ['data', 'marks'] as const) {
          const r = await scanFile(b, { chunkBytes, readAhead, decode, collect: true });
          expect(r, `chunk ${chunkBytes}, readAhead ${readAhead}, ${decode}`).toEqual(want);
        }
      }
      expect(await scanFile(b, { chunkBytes, sync: true })).toEqual(want);
    }
  });

  it('a line longer than maxLineBytes is damage whether it lies in one chunk or spans several', async () => {
    const b = build([['x'.repeat(9000)], ['y'.repeat(30_000)], values(2)]);
    for (const chunkBytes of [4096, 16_384, 512 * 1024]) {
      const r = await scanFile(b, { chunkBytes, maxLineBytes: 8000 });
      expect(r.corrupt, `chunk ${chunkBytes}`).toEqual([[b.line.get(1), 'line too long'], [b.line.get(2), 'line too long']]);
      expect(r.seqs).toEqual([3, 4]);
    }
  });

  it('an unterminated last line is not fed: once the writer finishes it, the next step commits it', async () => {
    const b = build([values(2), values(2)]);
    const partial = b.bytes.length - 10;
    fs.truncateSync(b.file, partial);
    const fd = fs.openSync(b.file, 'r');
    try {
      const scan = new JournalScan(fd, { path: b.file, from: b.headerEnd, seals: true, onCorrupt: 'throw', decode: 'data' });
      while ((await scan.step()) > 0);
      expect(scan.take().map((r) => r.seq)).toEqual([1, 2]);
      expect(scan.committedEnd).toBe(b.batches[1]);
      fs.appendFileSync(b.file, b.bytes.subarray(partial));
      while ((await scan.step()) > 0);
      expect(scan.take().map((r) => r.seq)).toEqual([3, 4]);
      expect(scan.finish(b.bytes.length)).toBeNull();
    } finally {
      fs.closeSync(fd);
    }
  });

  it('restart() forgets what was read after its position: a tail cut and written over in between reads as it is now', async () => {
    const b = build([values(2), values(2)]);
    const fd = fs.openSync(b.file, 'r+');
    try {
      fs.ftruncateSync(fd, b.bytes.length - 4);
      const scan = new JournalScan(fd, { path: b.file, from: b.headerEnd, seals: true, onCorrupt: 'throw', decode: 'data' });
      while ((await scan.step()) > 0);
      expect(scan.take().map((r) => r.seq)).toEqual([1, 2]);
      // A writer cuts the torn batch and writes another one there.
      const other = encodeBatch([prepareRecord({ other: true }, 5)], 3, b.batches[1]!).bytes;
      fs.ftruncateSync(fd, b.batches[1]!);
      fs.writeSync(fd, other, 0, other.length, b.batches[1]!);
      scan.restart(scan.committedEnd, scan.lastSeq, false);
      while ((await scan.step()) > 0);
      const recs = scan.take();
      expect(recs.map((r) => [r.seq, r.data])).toEqual([[3, { other: true }]]);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('retainBatch: onBatch views the bytes of a batch even when it spans chunks', async () => {
    const b = build([values(3, 2000), values(40, 300), values(1)]);
    const fd = fs.openSync(b.file, 'r');
    const seen: Buffer[] = [];
    try {
      const scan: JournalScan = new JournalScan(fd, {
        path: b.file, from: b.headerEnd, seals: true, onCorrupt: 'throw', decode: 'marks', collect: true, chunkBytes: 4096, retainBatch: true,
        onBatch: (records, end) => seen.push(Buffer.from(scan.view(records[0]!.offset, end))),
      });
      while ((await scan.step()) > 0);
    } finally {
      fs.closeSync(fd);
    }
    expect(seen).toEqual([
      b.bytes.subarray(b.batches[0], b.batches[1]), b.bytes.subarray(b.batches[1], b.batches[2]), b.bytes.subarray(b.batches[2]),
    ]);
  });

  it('a run of lines whose checksums do not add up is checked line by line: each single damaged byte is found at its own line', async () => {
    const b = build(Array.from({ length: 30 }, (_, i) => [{ i, pad: 'p'.repeat(5 + (i % 7)) }]));
    const clean = Buffer.from(b.bytes);
    // Every byte of three lines in the middle of one run, flipped one at a time.
    for (let at = b.line.get(10)!; at < b.line.get(13)!; at++) {
      const bytes = Buffer.from(clean);
      bytes[at] = bytes[at]! ^ 0x04;
      fs.writeFileSync(b.file, bytes);
      const r = await scanFile(b);
      const damaged = [10, 11, 12].find((s) => at < b.line.get(s + 1)!)!;
      // A flipped LF joins the line to the next one: one damaged line, two records lost.
      const lost = at === b.line.get(damaged + 1)! - 1 ? [damaged, damaged + 1] : [damaged];
      expect(r.corrupt.map(([o]) => o), `byte ${at}`).toEqual([b.line.get(damaged)]);
      expect(r.seqs, `byte ${at}`).toEqual(range(1, 30).filter((s) => !lost.includes(s)));
    }
  });
});

describe('seeking by seq', () => {
  it('lands at or before the first record at or above the target, never after it, in O(log n) reads', async () => {
    const b = build(Array.from({ length: 5000 }, (_, i) => values(1 + (i % 9), 40)));
    const last = Math.max(...b.line.keys());
    const fd = fs.openSync(b.file, 'r');
    try {
      for (const target of [1, 2, 5, 100, 777, 1234, last - 1, last, last + 1]) {
        const reads = countIo('read');
        const at = await seekSeq(fd, b.headerEnd, b.bytes.length, target, 1 << 20);
        expect(reads.n, `target ${target}`).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(b.bytes.length / 65536)) + 2);
        const first = b.line.get(Math.min(target, last))!;
        expect(at, `target ${target}`).toBeLessThanOrEqual(target > last ? b.bytes.length : first);
        expect(first - at, `target ${target}`).toBeLessThanOrEqual(4 * 65536);
        // It is a line start: a scan from it (inside a batch, maybe) finds the target first.
        const r = await scanFile(b, { from: at, firstLine: null, midBatch: true });
        expect(r.seqs.filter((s) => s >= target)[0] ?? null).toBe(target > last ? null : target);
      }
    } finally {
      fs.closeSync(fd);
    }
  });

  it('seals between batches (an idle writer leaves them) do not mislead a seek by seq or by time', async () => {
    // Batches of one record, each followed by a seal, as from a writer that idles after each.
    const head = encodeHeader(newHeader({ id: 'seals', created: 0 }));
    const parts: Buffer[] = [head];
    let pos = head.length;
    const at = new Map<number, number>();
    for (let seq = 1; seq <= 3000; seq++) {
      const batch = encodeBatch([prepareRecord({ seq, pad: 'q'.repeat(seq % 50) }, seq * 10)], seq, pos).bytes;
      at.set(seq, pos);
      const seal = encodeSeal(pos + batch.length);
      parts.push(batch, seal);
      pos += batch.length + seal.length;
    }
    const file = tmpJournal();
    fs.writeFileSync(file, Buffer.concat(parts));
    const fd = fs.openSync(file, 'r');
    try {
      for (const target of [2, 17, 1000, 1999, 2500, 2999, 3000]) {
        const bySeq = await seekSeq(fd, head.length, pos, target, 1 << 20);
        const byTs = await seekTs(fd, head.length, pos, target * 10, 1 << 20);
        for (const start of [bySeq, byTs]) {
          expect(start, `target ${target}`).toBeLessThanOrEqual(at.get(target)!);
          expect(at.get(target)! - start, `target ${target}`).toBeLessThan(4 * 65536);
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a probe that lands in damaged lines moves on to the next intact line', async () => {
    const b = build(Array.from({ length: 300 }, () => values(3, 60)));
    const bytes = Buffer.from(b.bytes);
    // Zeros over a stretch around the middle, where the first probe lands.
    bytes.fill(0x30, b.bytes.length / 2 - 5000, b.bytes.length / 2 + 5000);
    fs.writeFileSync(b.file, bytes);
    const fd = fs.openSync(b.file, 'r');
    try {
      const line = await findLine(fd, b.bytes.length / 2 - 5000, b.bytes.length, 1 << 20, () => true);
      expect(line).not.toBeNull();
      expect(line!.start).toBeGreaterThan(b.bytes.length / 2 + 5000);
      expect(b.line.get(line!.seq)).toBe(line!.start);
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe("a writer's recovery of the tail", () => {
  it('reads only the tail that no commit mark vouches for, not the whole file', async () => {
    const b = build(Array.from({ length: 2000 }, () => values(2, 200)));
    const fd = fs.openSync(b.file, 'r');
    try {
      const read = countReads({ sync: true });
      const tail = await recoverTail(fd, b.file, b.headerEnd, b.bytes.length, 1 << 20, true);
      expect(tail).toEqual({ end: b.bytes.length, lastSeq: 4000, lastTs: 1000 + 3999, sealed: false, synced: b.batches.at(-1), torn: null });
      expect(read.bytes).toBeLessThan(200 * 1024);
      expect(b.bytes.length).toBeGreaterThan(1_000_000);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('finds the same end and last seq as a scan from the top, wherever the file is cut', async () => {
    const b = build(Array.from({ length: 12 }, (_, i) => values(1 + (i % 3), 30)));
    for (let size = b.headerEnd; size <= b.bytes.length; size += 7) {
      fs.writeFileSync(b.file, b.bytes.subarray(0, size));
      const fd = fs.openSync(b.file, 'r');
      try {
        const tail = await recoverTail(fd, b.file, b.headerEnd, size, 1 << 20, true);
        const whole = await scanAppended(fd, b.file, b.headerEnd, 0, size, 1 << 20, true);
        expect(tail.end, `size ${size}`).toBe(whole.end);
        expect(tail.lastSeq, `size ${size}`).toBe(whole.lastSeq);
        expect(tail.torn, `size ${size}`).toEqual(whole.torn);
      } finally {
        fs.closeSync(fd);
      }
    }
  });

  it('a commit mark vouching for an offset that is not the end of a line is CORRUPT', async () => {
    const b = build([values(2), values(2), values(2)], (i, start) => (i === 2 ? start - 3 : start));
    const fd = fs.openSync(b.file, 'r');
    try {
      await expect(recoverTail(fd, b.file, b.headerEnd, b.bytes.length, 1 << 20, true)).rejects.toMatchObject({ code: ErrorCode.CORRUPT, offset: b.line.get(6) });
    } finally {
      fs.closeSync(fd);
    }
  });
});
