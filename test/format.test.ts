import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import CRC32 from 'crc-32';
import { encodeBatch, prepareRecord, type PendingRecord } from '../src/format/batch.js';
import { crc32, crc32Native, crc32Portable, crc32ShiftRegister, crc32SkipRegister, crc32Table, CRC_NATIVE_THRESHOLD } from '../src/format/crc.js';
import { decodeLine, decodeMarks, newEnvelope, type DecodedLine } from '../src/format/envelope.js';
import { checkFrames, frameJson } from '../src/format/frame.js';
import { decodeHeader, encodeHeader, newHeader } from '../src/format/header.js';
import { encodeSeal } from '../src/format/seal.js';
import { ErrorCode, Journal, readJournal, verify } from '../src/index.js';
import { readAll, tmpJournal } from './helpers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const VECTORS = path.join(ROOT, 'test/fixtures/vectors.jsonl');
const VECTORS_V1 = path.join(ROOT, 'test/fixtures/vectors-v1.jsonl');

const pending = (value: unknown, ts: number): PendingRecord => prepareRecord(value, ts);

/** decodeLine into an envelope of the caller's own, as a copy (the reader reuses one). */
function decode(line: Uint8Array, text?: string): DecodedLine {
  const env = newEnvelope();
  // Where the data lies is decodeMarks' note for readers, not part of what a line decodes to.
  const { dataFrom: _from, dataTo: _to, ...decoded } = env;
  return decodeLine(line, 0, line.length, env, text, 0) ?? { ...decoded, seq: env.seq, ts: env.ts, data: env.data, commit: env.commit, synced: env.synced };
}

/** The small journal docs/format.md shows: a header, one single append, one appendMany of three. */
/** The test vectors: version 2 ends with a seal, as a clean close leaves a journal; version 1 has none. */
function vectorBytes(version: 1 | 2): Buffer {
  const header = encodeHeader(newHeader({ version, id: '6f1c1f5e-2f0b-4c1e-9a57-3d2b8e4f0a11', created: 1767225600000, generation: 0, maxSeq: 0, minSeq: 1 }));
  const b1 = encodeBatch([pending({ type: 'greeting', text: 'hello' }, 1767225600001)], 1, header.length);
  const b2 = encodeBatch(
    [pending(42, 1767225600002), pending('naïve ☃', 1767225600002), pending([true, null, { nested: { x: 1.5 } }], 1767225600002)],
    2, header.length + b1.bytes.length,
  );
  const end = header.length + b1.bytes.length + b2.bytes.length;
  return Buffer.concat([header, b1.bytes, b2.bytes, ...(version === 2 ? [encodeSeal(end)] : [])]);
}

describe('CRC-32', () => {
  it('matches the IEEE check value and zlib for both implementations at every size around the switch', () => {
    const check = Buffer.from('123456789');
    expect(crc32Table(check)).toBe(0xcbf43926);
    expect(crc32Native(check)).toBe(0xcbf43926);
    for (let size = 0; size < 2 * CRC_NATIVE_THRESHOLD + 3; size++) {
      const b = Buffer.alloc(size);
      for (let i = 0; i < size; i++) b[i] = (i * 131 + size * 7) & 0xff;
      const want = zlibCrc32(b);
      expect(crc32Table(b)).toBe(want);
      expect(crc32Native(b)).toBe(want);
      expect(crc32(b)).toBe(want);
    }
  });

  it('the in-place loop agrees with the crc-32 package on random ranges of random buffers', () => {
    // An implementation written independently of this one: a bug in the slicing tables or in the
    // range arithmetic would have to be made twice, the same way, to pass.
    const buf = Buffer.alloc(4096);
    for (let i = 0; i < buf.length; i++) buf[i] = (Math.random() * 256) | 0;
    for (let k = 0; k < 2000; k++) {
      const start = (Math.random() * buf.length) | 0;
      const end = start + ((Math.random() * (buf.length - start)) | 0);
      expect(crc32Table(buf, start, end)).toBe(CRC32.buf(buf.subarray(start, end)) >>> 0);
    }
  });

  it('the portable long-input CRC (for Node before zlib.crc32) agrees with zlib', () => {
    const big = Buffer.alloc(1 << 16);
    for (let i = 0; i < big.length; i++) big[i] = (i * 89 + 5) & 0xff;
    expect(crc32Portable(Buffer.from('123456789'))).toBe(0xcbf43926);
    for (const len of [0, 1, CRC_NATIVE_THRESHOLD, 4097, big.length]) expect(crc32Portable(big.subarray(0, len))).toBe(zlibCrc32(big.subarray(0, len)));
  });

  it('loads and computes the same CRCs on a Node whose zlib has no crc32 (before 20.15, and 22.0 and 22.1)', () => {
    // The built module, in a process where zlib.crc32 is deleted before anything imports it.
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      delete require('node:zlib').crc32;
      const { crc32 } = await import(${JSON.stringify(path.join(ROOT, 'dist/format/crc.js'))});
      if (typeof (await import('node:zlib')).crc32 !== 'undefined') throw new Error('zlib.crc32 is still there');
      const b = Buffer.alloc(5000);
      for (let i = 0; i < b.length; i++) b[i] = (i * 31) & 0xff;
      console.log(JSON.stringify([crc32(b), crc32(b, 7, 4000), crc32(b, 3, 40)]));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const b = Buffer.alloc(5000);
    for (let i = 0; i < b.length; i++) b[i] = (i * 31) & 0xff;
    expect(JSON.parse(out)).toEqual([zlibCrc32(b), zlibCrc32(b.subarray(7, 4000)), zlibCrc32(b.subarray(3, 40))]);
  });

  it('agrees on large random buffers and on sub-ranges', () => {
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (Math.random() * 256) | 0;
    expect(crc32Table(big)).toBe(crc32Native(big));
    expect(crc32(big, 1000, 5000)).toBe(zlibCrc32(big.subarray(1000, 5000)));
    expect(crc32(big, 10, 20)).toBe(zlibCrc32(big.subarray(10, 20)));
  });

  it('reads a range in place at every alignment, as the reader checks lines inside a chunk', () => {
    const big = Buffer.alloc(4096);
    for (let i = 0; i < big.length; i++) big[i] = (i * 197 + 11) & 0xff;
    for (let start = 0; start < 17; start++) {
      for (const len of [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, CRC_NATIVE_THRESHOLD - 1, CRC_NATIVE_THRESHOLD, 1000]) {
        expect(crc32(big, start, start + len)).toBe(zlibCrc32(big.subarray(start, start + len)));
      }
    }
  });
});

describe('checking a run of lines with one native CRC', () => {
  const random = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (Math.random() * 256) | 0;
    return b;
  };

  it('combining two CRCs gives the CRC of the two inputs joined, at every table boundary and past the tables', () => {
    // The crc-32 package is the oracle: it shares no code with the shift tables.
    const lengths = [...Array.from({ length: 70 }, (_, i) => i), 127, 128, 129, 1000, 4031, 4032, 4095, 4096, 4097, 70_001];
    for (const lb of lengths) {
      const a = random((Math.random() * 50) | 0);
      const b = random(lb);
      const whole = CRC32.buf(Buffer.concat([a, b])) >>> 0;
      // The register after A is ~crc(A); skipping B by its CRC and length leaves ~crc(A then B).
      expect(~crc32SkipRegister(~CRC32.buf(a), CRC32.buf(b) >>> 0, lb) >>> 0, `length ${lb}`).toBe(whole);
      // Shifting a register by n bytes is feeding it n zero bytes.
      const reg = (Math.random() * 2 ** 32) | 0;
      let fed = reg;
      for (let i = 0; i < lb; i++) fed = fedZero(fed);
      expect(crc32ShiftRegister(reg, lb), `shift ${lb}`).toBe(fed);
    }
    /** One zero byte through the register, bit by bit, the way the CRC is defined. */
    function fedZero(r: number): number {
      let c = r;
      for (let bit = 0; bit < 8; bit++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      return c;
    }
  });

  /** A run of batches with records of many sizes: empty-ish, multibyte, and longer than the shift tables. */
  function run(): Buffer {
    const values: unknown[] = [{}, 1, 'naïve ☃', 'x'.repeat(5000), { nested: [1, 2, { a: 'b' }] }, 'y'.repeat(63), 'z'.repeat(4086), null];
    const parts: Buffer[] = [];
    let seq = 1;
    for (let k = 0; k < 6; k++) {
      const recs = values.slice(k % 3).map((v, i) => pending(v, 1_700_000_000_000 + i));
      parts.push(encodeBatch(recs, seq, 0).bytes);
      seq += recs.length;
    }
    return Buffer.concat(parts);
  }
  const lfsOf = (b: Buffer) => {
    const out: number[] = [];
    for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) out.push(i);
    return out;
  };

  it('accepts an intact run and finds each line\'s end', () => {
    const b = run();
    const lfs = new Int32Array(1000);
    const want = lfsOf(b);
    expect(checkFrames(b, 0, b.length - 1, 1 << 20, lfs)).toBe(want.length);
    expect(Array.from(lfs.subarray(0, want.length))).toEqual(want);
    // Any run of whole lines inside it, too.
    expect(checkFrames(b, want[2]! + 1, want[9]!, 1 << 20, lfs)).toBe(7);
  });

  it('refuses the run after any one byte of it is changed, wherever it is', () => {
    const lines = Array.from({ length: 6 }, (_, i) => frameJson(JSON.stringify({ seq: i + 1, ts: 5, data: { k: 'v'.repeat(i * 7) } })));
    const b = Buffer.concat(lines);
    const lfs = new Int32Array(100);
    expect(checkFrames(b, 0, b.length - 1, 1 << 20, lfs)).toBe(6);
    let cases = 0;
    // The last LF ends the run, so it stays.
    for (let at = 0; at < b.length - 1; at++) {
      for (const to of [b[at]! ^ 0x01, b[at]! ^ 0x80, 0x0a, 0x20, 0x30]) {
        if (to === b[at]) continue;
        const damaged = Buffer.from(b);
        damaged[at] = to;
        expect(checkFrames(damaged, 0, b.length - 1, 1 << 20, lfs), `byte ${at} set to ${to}`).toBe(-1);
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(4 * b.length);
  });

  it('refuses runs with two damaged lines, and lines too long, too short or without a frame', () => {
    const b = run();
    const want = lfsOf(b);
    const lfs = new Int32Array(1000);
    for (let trial = 0; trial < 300; trial++) {
      const damaged = Buffer.from(b);
      // Two different lines: two flips of the same bit would cancel out.
      const first = (Math.random() * want.length) | 0;
      const second = (first + 1 + ((Math.random() * (want.length - 1)) | 0)) % want.length;
      for (const line of [first, second]) {
        const start = line === 0 ? 0 : want[line - 1]! + 1;
        const at = start + FRAME + ((Math.random() * (want[line]! - start - FRAME)) | 0);
        damaged[at] ^= 1 << ((Math.random() * 8) | 0);
      }
      expect(checkFrames(damaged, 0, b.length - 1, 1 << 20, lfs)).toBe(-1);
    }
    expect(checkFrames(b, 0, b.length - 1, 4000, lfs)).toBe(-1);
    const short = Buffer.concat([frameJson('{"seq":1,"ts":1,"data":1}'), Buffer.from('abc\n')]);
    expect(checkFrames(short, 0, short.length - 1, 1 << 20, lfs)).toBe(-1);
    const unframed = Buffer.concat([frameJson('{"seq":1,"ts":1,"data":1}'), Buffer.from('{"seq":2,"ts":1,"data":1}\n')]);
    expect(checkFrames(unframed, 0, unframed.length - 1, 1 << 20, lfs)).toBe(-1);
    // More lines than room to note their ends: left to the line-by-line check.
    expect(checkFrames(b, 0, b.length - 1, 1 << 20, new Int32Array(3))).toBe(-1);
  });
});

const FRAME = 9;

describe.each([[2, VECTORS], [1, VECTORS_V1]] as const)('test vectors, format version %i', (version, file) => {
  it('the encoder produces the fixture byte for byte', () => {
    expect(vectorBytes(version).equals(fs.readFileSync(file))).toBe(true);
  });

  it('every line of the fixture carries the zlib CRC-32 of its JSON as 8 lowercase hex digits', () => {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    for (const line of lines) {
      expect(line).toMatch(/^[0-9a-f]{8} \{/);
      expect(line.slice(0, 8)).toBe(zlibCrc32(Buffer.from(line.slice(9), 'utf8')).toString(16).padStart(8, '0'));
    }
  });

  it('the reader returns exactly the fixture records, and verify finds it clean', async () => {
    const recs = await readAll(file);
    expect(recs.map((r) => [r.seq, r.ts, r.data])).toEqual([
      [1, 1767225600001, { type: 'greeting', text: 'hello' }],
      [2, 1767225600002, 42],
      [3, 1767225600002, 'naïve ☃'],
      [4, 1767225600002, [true, null, { nested: { x: 1.5 } }]],
    ]);
    expect(await verify(file)).toMatchObject({ ok: true, records: 4, header: { version } });
  });

  it('docs/format.md quotes the fixture exactly', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/format.md'), 'utf8');
    expect(doc).toContain(fs.readFileSync(file, 'utf8'));
  });
});

describe('the test vectors, cut and damaged as docs/format.md section 8 says', () => {
  const bytes = fs.readFileSync(VECTORS);
  const seqs = async (file: string) => (await readAll(file)).map((r) => r.seq);

  it('cut inside the seal: a torn tail the next writer cuts back to 465, all four records kept', async () => {
    const file = tmpJournal();
    for (let end = 466; end < bytes.length; end++) {
      fs.writeFileSync(file, bytes.subarray(0, end));
      expect(await verify(file), `cut at ${end}`).toMatchObject({ corrupt: [], tornTail: { offset: 465 } });
      const j = await Journal.open(file);
      expect(fs.statSync(file).size, `cut at ${end}`).toBe(465);
      await j.close();
      expect(await seqs(file)).toEqual([1, 2, 3, 4]);
    }
  });

  it('seal cut off and cut inside the last batch: record 1 only', async () => {
    const file = tmpJournal();
    for (let end = 257; end < 465; end++) {
      fs.writeFileSync(file, bytes.subarray(0, end));
      expect((await verify(file)).corrupt, `cut at ${end}`).toEqual([]);
      expect(await seqs(file), `cut at ${end}`).toEqual([1]);
    }
  });

  it('any one byte changed from offset 153 on: corruption at the line holding it', async () => {
    const file = tmpJournal();
    for (let at = 153; at < bytes.length; at++) {
      const damaged = Buffer.from(bytes);
      damaged[at] = damaged[at]! ^ 0x20;
      fs.writeFileSync(file, damaged);
      const report = await verify(file);
      expect(report.tornTail, `byte ${at}`).toBeNull();
      expect(report.corrupt[0]?.offset, `byte ${at}`).toBe(bytes.lastIndexOf(0x0a, at - 1) + 1);
    }
  });
});

describe('codec', () => {
  const values: Array<[string, unknown]> = [
    ['null', null], ['true', true], ['false', false], ['zero', 0], ['negative', -17], ['float', 3.141592653589793],
    ['tiny float', 5e-324], ['huge float', 1.7976931348623157e308], ['empty string', ''], ['string', 'plain'],
    ['escapes', 'quote " backslash \\ newline \n tab \t cr \r nul \u0000'],
    ['unicode', 'naïve café ☃ 日本語 𝄞 emoji 🎉'], ['line separators', 'a\u2028b\u2029c'],
    ['lone surrogate', 'x\ud800y'], ['empty array', []], ['empty object', {}],
    ['nested', { a: [1, { b: [null, { c: 'd' }] }], e: { f: { g: { h: [[[]]] } } } }],
    ['object with __proto__ key', JSON.parse('{"__proto__":{"x":1},"y":2}')],
    ['large string', 'x'.repeat(3 * 1024 * 1024)],
    ['large array', Array.from({ length: 100_000 }, (_, i) => i)],
  ];

  it.each(values)('round-trips %s through a journal', async (_name, value) => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const { seq } = await j.append(value);
    await j.close();
    const recs = await readAll(file);
    expect(recs).toHaveLength(1);
    expect(recs[0]!.seq).toBe(seq);
    expect(recs[0]!.data).toEqual(JSON.parse(JSON.stringify(value)));
  });

  it('never writes a raw newline inside a line', () => {
    const enc = encodeBatch([pending({ s: 'a\nb\r\nc' }, 1)], 1, 0);
    expect(enc.bytes.indexOf(0x0a)).toBe(enc.bytes.length - 1);
  });

  it('a line whose JSON is not an envelope is damage, not a record', () => {
    const line = encodeHeader(newHeader());
    expect(decode(line.subarray(0, -1))).toBe('not a record envelope');
  });

  it('tells a file that is not a journal from a damaged header', () => {
    expect(() => decodeHeader(Buffer.from('hello world'), 'x')).toThrow(expect.objectContaining({ code: ErrorCode.NOT_A_JOURNAL }));
    expect(() => decodeHeader(Buffer.alloc(0), 'x')).toThrow(expect.objectContaining({ code: ErrorCode.NOT_A_JOURNAL }));
    const h = encodeHeader(newHeader());
    h[20] ^= 1;
    expect(() => decodeHeader(h.subarray(0, h.length - 1), 'x')).toThrow(expect.objectContaining({ code: ErrorCode.CORRUPT }));
    const future = Buffer.from(encodeHeader(newHeader()).toString().replace('"version":2', '"version":9'));
    const json = future.subarray(9, future.length - 1).toString();
    const reframed = Buffer.from(`${zlibCrc32(Buffer.from(json)).toString(16).padStart(8, '0')} ${json}`);
    expect(() => decodeHeader(reframed, 'x')).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_VERSION }));
  });

  it('a reader of a journal with no records yields nothing', async () => {
    const file = tmpJournal();
    await (await Journal.open(file)).close();
    const it = readJournal(file);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('reading the envelope from the bytes decodes every line as parsing the whole line does', () => {
    const tricky: unknown[] = [
      7, 0, -1, 1.5e300, 'x', '"commit":1,"synced":2}', { commit: 1, synced: 2 }, [',"commit":3,"synced":4'],
      { a: { commit: 5, synced: 6 } }, null, true, [], {}, 'naïve ☃', { synced: 9 }, { data: 1, seq: 2 }, '}', ' ',
    ];
    const jsons: string[] = [];
    for (const line of encodeBatch(tricky.map((v, i) => pending(v, 1000 + i)), 41, 777).bytes.toString('utf8').split('\n')) {
      if (line !== '') jsons.push(line.slice(9));
    }
    jsons.push(
      // Laid out as this library writes, except for what follows the data: further keys, spaces, a
      // second data key, a mark with a leading zero, a mark not at the end.
      '{"seq":3,"ts":5,"data":1,"extra":true}', '{"seq":3,"ts":5,"data":1,"data":2}', '{"seq":3,"ts":5,"data": [1, 2] }',
      '{"seq":3,"ts":5,"data":{"x":1} ,"commit":1,"synced":0}', '{"seq":3,"ts":5,"data":1,"commit":01,"synced":0}',
      '{"seq":3,"ts":5,"data":1,"commit":1,"synced":0,"x":0}', '{"seq":3,"ts":5,"data":{"x":1,"commit":1,"synced":0}',
      // Numbers JSON allows but the writer never writes, and numbers out of range.
      '{"seq":3.0,"ts":5,"data":1}', '{"seq":3e0,"ts":5,"data":1}', '{"seq":-3,"ts":5,"data":1}', '{"seq":0,"ts":5,"data":1}',
      '{"seq":9007199254740993,"ts":5,"data":1}', '{"seq":12345678901234567,"ts":5,"data":1}', '{"seq":3,"ts":-5,"data":1}',
      // No data, or nothing that is JSON.
      '{"seq":3,"ts":5,"data":}', '{"seq":3,"ts":5,"data"', '{"seq":3,"ts":5}', '{"seq":3,"ts":5,"data":1}}', '[1]', 'null',
    );
    const reference = (json: string): DecodedLine => {
      let v: Record<string, unknown>;
      try {
        v = JSON.parse(json);
      } catch {
        return 'invalid JSON';
      }
      if (typeof v !== 'object' || v === null || !('data' in v)) return 'not a record envelope';
      const marked = /,"commit":(0|[1-9][0-9]*),"synced":(0|[1-9][0-9]*)\}$/.exec(json);
      if (marked !== null && (v.commit !== Number(marked[1]) || v.synced !== Number(marked[2]))) return 'malformed commit mark';
      const env = { seq: v.seq, ts: v.ts, data: v.data, commit: marked === null ? undefined : v.commit, synced: marked === null ? undefined : v.synced };
      if (!Number.isSafeInteger(env.seq) || (env.seq as number) < 1 || !Number.isSafeInteger(env.ts) || (env.ts as number) < 0) return 'not a record envelope';
      if (env.commit !== undefined && (!Number.isSafeInteger(env.commit) || (env.commit as number) < 1)) return 'malformed commit mark';
      return env as DecodedLine;
    };
    for (const json of jsons) {
      const line = frameJson(json).subarray(0, -1);
      const want = reference(json);
      expect(decode(line), json).toEqual(want);
      if (/^[\x00-\x7f]*$/.test(json)) expect(decode(line, line.toString('latin1')), json).toEqual(want);
    }
  });

  it('the writers’ light decoder agrees with the full one on seq, ts and commit marks, whatever the data', () => {
    const tricky: unknown[] = [
      7, 0, -1, 1.5e300, 'x', '"commit":1,"synced":2}', { commit: 1, synced: 2 }, [',"commit":3,"synced":4'],
      { a: { commit: 5, synced: 6 } }, null, true, [], {}, 'naïve ☃', { synced: 9 },
    ];
    const lines: Buffer[] = [];
    const batch = encodeBatch(tricky.map((v, i) => pending(v, 1000 + i)), 41, 777).bytes;
    let i = 0;
    while (i < batch.length) {
      const lf = batch.indexOf(0x0a, i);
      lines.push(batch.subarray(i, lf));
      i = lf + 1;
    }
    for (const v of tricky) lines.push(encodeBatch([pending(v, 5)], 3, 99).bytes.subarray(0, -1));
    // Envelopes in another key order, with whitespace, or with unknown keys: parsed in full.
    for (const json of ['{"ts":5,"seq":3,"data":1,"commit":1,"synced":0}', '{"seq":3,"ts":5,"data":1,"commit":1,"synced":0,"extra":true}',
      '{ "seq": 3, "ts": 5, "data": 1 }', '{"seq":3,"ts":5,"commit":1,"synced":0,"data":{"x":1}}', '{"seq":03,"ts":5,"data":1}',
      '{"seq":3,"ts":5,"commit":1,"synced":0}', '{"seq":3,"ts":5,"data":1,"commit":1,"synced":0 }',
      // Numbers at and past the edges of what the envelope allows, for the fast path and the general one.
      '{"seq":0,"ts":5,"data":{}}', '{"seq":00,"ts":5,"data":{}}', '{"seq":-1,"ts":5,"data":{}}', '{"seq":1.5,"ts":5,"data":{}}',
      '{"seq":9007199254740991,"ts":9007199254740991,"data":{}}', '{"seq":9007199254740992,"ts":5,"data":{}}',
      '{"seq":1,"ts":9007199254740992,"data":{}}', '{"seq":12345678901234567,"ts":5,"data":{}}', '{"seq":1,"ts":12345678901234567,"data":{}}',
      '{"seq":1,"ts":0,"data":{}}', '{"seq":1,"ts":00,"data":{}}', '{"seq":1,"ts":,"data":{}}', '{"seq":,"ts":1,"data":{}}',
      '{"seq":1,"ts":1,"data":[1]}', '{"seq":1,"ts":1,"data":{"a":1}}', '{"seq":1,"ts":1,"data":"}"}', '{"seq":1,"ts":1,"dat":{}}']) {
      lines.push(frameJson(json).subarray(0, -1));
    }
    let commits = 0;
    for (const line of lines) {
      const full = decode(line);
      if (typeof full !== 'string' && full.commit !== undefined) commits++;
      const light = decodeMarks(line, 0, line.length);
      if (typeof full === 'string') {
        expect(light).toBe(full);
        continue;
      }
      expect(typeof light).toBe('object');
      const l = light as Exclude<typeof light, string>;
      expect([l.seq, l.ts, l.commit, l.synced]).toEqual([full.seq, full.ts, full.commit, full.synced]);
      // A reader parses only the range decodeMarks names: where that parses, it is the line's data.
      if (l.dataFrom! >= 0) {
        let data: unknown = full.data;
        try {
          data = JSON.parse(Buffer.from(line).toString('utf8', l.dataFrom, l.dataTo));
        } catch {
          // Not JSON: the reader decodes the whole line instead.
        }
        expect(data).toEqual(full.data);
      }
    }
    // The batch's own mark, the single-record batches', and the one foreign line ending in a mark.
    expect(commits).toBe(1 + tricky.length + 1);
    // Writers trust the checksum for the JSON of data: a foreign writer's invalid JSON under a valid
    // checksum is damage to readers, who parse it, and an ordinary record to writers, who skip it.
    const foreign = frameJson('{"seq":3,"ts":5,"data":1,"commit":01,"synced":0}').subarray(0, -1);
    expect(decode(foreign)).toBe('invalid JSON');
    const asRecord = decodeMarks(foreign, 0, foreign.length);
    expect(asRecord).toMatchObject({ seq: 3 });
    expect((asRecord as { commit?: number }).commit).toBeUndefined();
    const damaged = Buffer.from(lines[0]!);
    damaged[20] ^= 1;
    expect(decodeMarks(damaged, 0, damaged.length)).toBe('checksum mismatch');
  });
});

