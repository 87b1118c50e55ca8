// Nothing acknowledged is lost silently: seals vouch for the last batches of a closed or idle
// writer, whatever open or a writer cuts is saved first, version 1 journals keep their format, and
// timestamps and numbers are stored as promised.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { encodeHeader, newHeader } from '../src/format/header.js';
import { canReadExactIntegers } from '../src/format/json.js';
import { sealLength } from '../src/format/seal.js';
import { compact, ErrorCode, Journal, rawJson, readJournal, repair, verify } from '../src/index.js';
import { cutsDir, MAX_SAVED_CUT_BYTES, MAX_SAVED_CUTS } from '../src/write/cuts.js';
import { IDLE_SEAL_MS } from '../src/write/journal.js';
import { bytesOf, readAll, sleep, tmpJournal } from './helpers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const LF = 0x0a;

/** A small journal of single records and appendMany groups, closed: it ends with a seal. */
async function closedJournal(): Promise<{ file: string; bytes: Buffer; headerEnd: number; sealAt: number; lastBatch: number }> {
  const file = tmpJournal();
  const j = await Journal.open(file);
  await j.append({ first: 'record', n: 1 });
  await j.appendMany([{ group: 1 }, { group: 2, text: 'naïve ☃' }, { group: 3 }]);
  await j.append('a string');
  const last = await j.appendMany([[1, 2, 3], { last: true }]);
  await j.close();
  const bytes = bytesOf(file);
  const sealAt = bytes.lastIndexOf(LF, bytes.length - 2) + 1;
  return { file, bytes, headerEnd: bytes.indexOf(LF) + 1, sealAt, lastBatch: last[0]!.offset };
}

/** Where the line holding byte `at` starts. */
const lineStart = (b: Buffer, at: number) => b.lastIndexOf(LF, at - 1) + 1;

describe('a cleanly closed journal', () => {
  it('ends with a seal, and any one byte of it flipped after the header is corruption at its line: open cuts nothing, and refuses when the byte is in the tail it reads', async () => {
    const { file, bytes, headerEnd, sealAt } = await closedJournal();
    expect(bytes.subarray(sealAt).toString()).toMatch(new RegExp(`^[0-9a-f]{8} \\{"seal":${sealAt}\\}\\n$`));
    // A seal with 4 bytes or fewer in a 512-byte sector has them judged as a crash may leave them
    // (scan.test.ts proves that rule); this journal's seal lies within one sector.
    expect(Math.floor(sealAt / 512)).toBe(Math.floor((bytes.length - 1) / 512));
    for (let at = headerEnd; at < bytes.length; at++) {
      for (const mask of [0x01, 0x40]) {
        const damaged = Buffer.from(bytes);
        damaged[at] = damaged[at]! ^ mask;
        fs.writeFileSync(file, damaged);
        const report = await verify(file);
        expect(report.tornTail, `byte ${at} ^ ${mask}`).toBeNull();
        expect(report.corrupt[0]?.offset, `byte ${at} ^ ${mask}`).toBe(lineStart(bytes, at));
        // Open reads only what no commit mark or seal vouches for, from the line the seal's offset
        // ends on: damage there makes it refuse; damage before is left for verify to report. Either
        // way nothing is cut.
        const opened = await Journal.open(file).catch((err: unknown) => err);
        if (at >= lineStart(bytes, sealAt - 2)) expect(opened, `byte ${at} ^ ${mask}`).toMatchObject({ code: ErrorCode.CORRUPT });
        if (opened instanceof Journal) {
          expect(opened.recovered).toBeNull();
          await opened.close();
        }
        expect(bytesOf(file).equals(damaged), `byte ${at} ^ ${mask}`).toBe(true);
      }
    }
  });

  it('journal verify exits 2 and names the offset for a flipped byte in the last batch and in the seal', async () => {
    const { file, bytes, sealAt, lastBatch } = await closedJournal();
    for (const at of [lastBatch + 12, sealAt - 1, sealAt + 3, bytes.length - 2]) {
      const damaged = Buffer.from(bytes);
      damaged[at] = damaged[at]! ^ 0x01;
      fs.writeFileSync(file, damaged);
      let out = '';
      let code = 0;
      try {
        out = execFileSync(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'verify', file], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      } catch (err) {
        ({ stdout: out, status: code } = err as { stdout: string; status: number });
      }
      expect(code, `byte ${at}`).toBe(2);
      expect(out, `byte ${at}`).toContain(`offset ${lineStart(bytes, at).toLocaleString('en-US')}`);
      expect(out).not.toContain('torn tail');
    }
  });

  it('a writer idle for the seal time seals its last batch; a second idle period adds no second seal', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const { offset } = await j.append({ vouched: 'soon' });
    const unsealed = fs.statSync(file).size;
    await sleep(IDLE_SEAL_MS * 2);
    const sealed = fs.statSync(file).size;
    expect(sealed).toBe(unsealed + sealLength(unsealed));
    await sleep(IDLE_SEAL_MS * 2);
    expect(fs.statSync(file).size).toBe(sealed);
    // The process is still running, its journal open: damage to the batch now reads as corruption.
    const b = bytesOf(file);
    b[offset + 12] = b[offset + 12]! ^ 0x01;
    fs.writeFileSync(file, b);
    expect((await verify(file)).corrupt.map((d) => d.offset)).toEqual([offset]);
    await j.close().catch(() => {});
  });

  it('before its seal, a writer killed after its batch leaves that batch to the documented window: damage there is a torn tail', async () => {
    // What the seal closes: the same damage with the seal cut off, as a SIGKILL before the idle seal leaves it.
    const { file, bytes, sealAt, lastBatch } = await closedJournal();
    const damaged = Buffer.from(bytes.subarray(0, sealAt));
    damaged[lastBatch + 12] = damaged[lastBatch + 12]! ^ 0x01;
    fs.writeFileSync(file, damaged);
    const report = await verify(file);
    expect(report.corrupt).toEqual([]);
    expect(report.tornTail).toEqual({ offset: lastBatch, bytes: sealAt - lastBatch, foreign: 0 });
  });

  it("'unsafe-nosync' writes no seal: it knows nothing durable to vouch for", async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    await j.append(1);
    const size = fs.statSync(file).size;
    await sleep(IDLE_SEAL_MS * 2);
    await j.close();
    expect(fs.statSync(file).size).toBe(size);
  });
});

describe('seals in the middle of a journal', () => {
  it('every compaction policy reads through them, and the result is sealed and clean', async () => {
    const policies = [
      { key: (r: { data: unknown }) => String((r.data as { k: number }).k) },
      { beforeSeq: 3 },
      { beforeTs: 0 },
      { maxBytes: 100_000 },
      { keep: () => true },
    ];
    for (const policy of policies) {
      const file = tmpJournal();
      // Each close seals the last batch, so that the next session's batches follow a seal.
      for (let s = 0; s < 3; s++) {
        const j = await Journal.open(file);
        await j.appendMany([{ k: 1, s }, { k: 2, s }]);
        await j.close();
      }
      expect(fs.readFileSync(file, 'utf8').match(/\{"seal":/g)).toHaveLength(3);
      const r = await compact(file, policy);
      expect(r.version, JSON.stringify(Object.keys(policy))).toBe(2);
      expect(await verify(file)).toMatchObject({ ok: true, corrupt: [], tornTail: null });
    }
  });
});

describe('what is cut is kept', () => {
  it('open saves a torn tail before it cuts it, and says where in journal.recovered', async () => {
    const { file, bytes } = await closedJournal();
    const torn = Buffer.from('0123abcd {"seq":8,"ts":1,"da');
    fs.appendFileSync(file, torn);
    const j = await Journal.open(file);
    expect(j.recovered).toEqual({ offset: bytes.length, bytes: torn.length, foreign: 0, savedTo: expect.stringMatching(/\.cut\/\d+-at-\d+\.cut$/) });
    expect(fs.readFileSync(j.recovered!.savedTo).equals(torn)).toBe(true);
    expect(path.dirname(j.recovered!.savedTo)).toBe(cutsDir(file));
    expect(fs.statSync(file).size).toBe(bytes.length);
    await j.close();
    const again = await Journal.open(file);
    expect(again.recovered).toBeNull();
    await again.close();
  });

  it('lines another tool appended are reported as such, saved and cut, not taken for a crash', async () => {
    const { file, bytes } = await closedJournal();
    fs.appendFileSync(file, '{"manual":1}\n{"manual":2}\n');
    expect((await verify(file)).tornTail).toEqual({ offset: bytes.length, bytes: 26, foreign: 2 });
    const j = await Journal.open(file);
    expect(j.recovered).toMatchObject({ offset: bytes.length, bytes: 26, foreign: 2 });
    expect(fs.readFileSync(j.recovered!.savedTo, 'utf8')).toBe('{"manual":1}\n{"manual":2}\n');
    await j.close();
  });

  it('a writer that cuts the torn tail of another process saves it too', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append('first');
    // Another writer died half way through its batch (it wrote under the lock, between our batches).
    const end = fs.statSync(file).size;
    const half = Buffer.from('89abcdef {"seq":2,"ts":5,"data":"half');
    fs.appendFileSync(file, half);
    await j.append('second');
    const saved = fs.readdirSync(cutsDir(file));
    expect(saved).toEqual([expect.stringMatching(new RegExp(`^\\d+-at-${end}\\.cut$`))]);
    expect(fs.readFileSync(path.join(cutsDir(file), saved[0]!)).equals(half)).toBe(true);
    await j.close();
    expect((await readAll(file)).map((r) => r.data)).toEqual(['first', 'second']);
  });

  it('keeps only the newest 32 saved cuts', async () => {
    expect(MAX_SAVED_CUTS).toBe(32);
    const { file } = await closedJournal();
    const names: string[] = [];
    for (let i = 0; i < MAX_SAVED_CUTS + 3; i++) {
      fs.appendFileSync(file, `torn number ${i}`);
      const j = await Journal.open(file);
      names.push(path.basename(j.recovered!.savedTo));
      await j.close();
    }
    const left = fs.readdirSync(cutsDir(file)).sort();
    expect(left).toEqual(names.slice(3).sort());
  });

  it('keeps saved cuts up to 256 MiB: the oldest beyond it are removed when a new one is saved', async () => {
    expect(MAX_SAVED_CUT_BYTES).toBe(256 * 1024 * 1024);
    const { file } = await closedJournal();
    const dir = cutsDir(file);
    fs.mkdirSync(dir);
    // Two older cuts, sparse: 100 MiB, and before it 200 MiB, which no longer fits beside it.
    for (const [name, mib] of [['1000-at-9.cut', 200], ['2000-at-9.cut', 100]] as const) {
      fs.writeFileSync(path.join(dir, name), '');
      fs.truncateSync(path.join(dir, name), mib * 1024 * 1024);
    }
    fs.appendFileSync(file, 'torn');
    const j = await Journal.open(file);
    await j.close();
    expect(fs.readdirSync(dir).sort()).toEqual(['2000-at-9.cut', path.basename(j.recovered!.savedTo)].sort());
  });

  it("'interval' seals once idle for syncIntervalMs, when that is longer than 250 ms", async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'interval', syncIntervalMs: IDLE_SEAL_MS * 4 });
    await j.append('vouched later');
    const unsealed = fs.statSync(file).size;
    await sleep(IDLE_SEAL_MS * 2);
    expect(fs.statSync(file).size).toBe(unsealed);
    for (const t0 = Date.now(); fs.statSync(file).size === unsealed && Date.now() - t0 < 10_000;) await sleep(20);
    expect(bytesOf(file).subarray(unsealed).toString()).toMatch(new RegExp(`^[0-9a-f]{8} \\{"seal":${unsealed}\\}\\n$`));
    await j.close();
  });

  it('compaction saves the torn tail it leaves out, and reports it', async () => {
    const { file, bytes } = await closedJournal();
    fs.appendFileSync(file, 'torn');
    const r = await compact(file);
    expect(r.cut).toMatchObject({ offset: bytes.length, bytes: 4, foreign: 0 });
    expect(fs.readFileSync(r.cut!.savedTo, 'utf8')).toBe('torn');
  });

  it('repair of a clean journal writes nothing: no .broken copy, the same generation', async () => {
    const { file, bytes } = await closedJournal();
    const r = await repair(file);
    expect(r).toMatchObject({ brokenCopy: null, dropped: [], tornTail: null, recordsKept: 7 });
    expect(bytesOf(file).equals(bytes)).toBe(true);
    expect(fs.readdirSync(path.dirname(file))).toEqual([path.basename(file)]);
  });
});

describe('format versions', () => {
  async function v1Journal(): Promise<string> {
    const file = tmpJournal();
    fs.writeFileSync(file, encodeHeader(newHeader({ version: 1 })));
    const j = await Journal.open(file);
    await j.appendMany([1, 2, 3]);
    await j.close();
    return file;
  }

  it('a version 1 journal stays version 1 when appended to: no seals that older readers would not know', async () => {
    const file = await v1Journal();
    expect(bytesOf(file).toString()).not.toContain('"seal"');
    expect(await verify(file)).toMatchObject({ ok: true, records: 3, header: { version: 1 } });
  });

  it('compaction makes a version 1 journal version 2 when its timestamps never go back, and seals it', async () => {
    const file = await v1Journal();
    const r = await compact(file);
    expect(r.version).toBe(2);
    expect(await verify(file)).toMatchObject({ ok: true, records: 3, header: { version: 2 } });
    expect(bytesOf(file).toString()).toMatch(/\{"seal":\d+\}\n$/);
  });

  it('compaction keeps a version 1 journal whose timestamps go back as version 1', async () => {
    const file = tmpJournal();
    const { encodeBatch, prepareRecord } = await import('../src/format/batch.js');
    const head = encodeHeader(newHeader({ version: 1 }));
    const b1 = encodeBatch([prepareRecord('late', 2000)], 1, head.length).bytes;
    const b2 = encodeBatch([prepareRecord('early', 1000)], 2, head.length + b1.length).bytes;
    fs.writeFileSync(file, Buffer.concat([head, b1, b2]));
    const r = await compact(file);
    expect(r.version).toBe(1);
    expect((await readAll(file)).map((x) => x.ts)).toEqual([2000, 1000]);
    expect(bytesOf(file).toString()).not.toContain('"seal"');
  });
});

describe('time order', () => {
  it('timestamps never go back in seq order: a writer whose clock stepped back takes the last timestamp of the journal', async () => {
    const file = tmpJournal();
    const ahead = await Journal.open(file);
    const behind = await Journal.open(file);
    await ahead.append('now');
    const spy = vi.spyOn(Date, 'now').mockReturnValue(Date.now() - 3_600_000);
    try {
      await behind.append('an hour behind');
      await behind.appendMany(['also', 'behind']);
    } finally {
      spy.mockRestore();
    }
    await ahead.append('now again');
    await ahead.close();
    await behind.close();
    const ts = (await readAll(file)).map((r) => r.ts);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(ts[1]).toBe(ts[0]);
  });
});

describe('appending with a time of the caller\'s', () => {
  it('append and appendMany take ts (ms or a Date, one for all or one per value); a time below the last is raised to it', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append('a', { ts: 5000 });
    await j.appendMany(['b', 'c'], { ts: [6000, new Date(7000)] });
    await j.appendMany(['d', 'e'], { ts: 8000 });
    await j.append('earlier', { ts: 1000 });
    await expect(j.append('bad', { ts: -1 })).rejects.toThrow(RangeError);
    await expect(j.appendMany(['x', 'y'], { ts: [1] })).rejects.toThrow(RangeError);
    await j.close();
    expect((await readAll(file)).map((r) => [r.data, r.ts])).toEqual([['a', 5000], ['b', 6000], ['c', 7000], ['d', 8000], ['e', 8000], ['earlier', 8000]]);
  });
});

describe('numbers exactly as written', () => {
  it('rawJson text and BigInt values are stored digit for digit, and read back as text or as BigInt', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append(rawJson('{ "n": 12345678901234567890123, "f": 0.1000000000000000055511151231257827 }'));
    await j.append({ id: 9007199254740993n, nested: [rawJson('-98765432109876543210')] });
    await j.close();
    const text = bytesOf(file).toString();
    expect(text).toContain('"data":{"n":12345678901234567890123,"f":0.1000000000000000055511151231257827}');
    expect(text).toContain('"data":{"id":9007199254740993,"nested":[-98765432109876543210]}');
    const texts = [];
    for await (const r of readJournal(file, { data: 'text' })) texts.push(r.data);
    expect(texts).toEqual(['{"n":12345678901234567890123,"f":0.1000000000000000055511151231257827}', '{"id":9007199254740993,"nested":[-98765432109876543210]}']);
    // A plain read rounds them to doubles, as JSON.parse does.
    expect((await readAll(file))[1]!.data).toEqual({ id: 9007199254740992, nested: [-98765432109876540000] });
  });

  it("data: 'bigint' reads integers a double cannot hold as BigInt where JSON.parse gives revivers the source (node --harmony-json-parse-with-source on Node 20)", async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.append({ id: 12345678901234567890123n, small: 7, float: 1.5 });
    await j.close();
    const script = `
      const { readJournal } = await import(${JSON.stringify(path.join(ROOT, 'dist/index.js'))});
      for await (const r of readJournal(${JSON.stringify(file)}, { data: 'bigint' })) {
        console.log(typeof r.data.id, String(r.data.id), typeof r.data.small, r.data.float);
      }`;
    // Node 20 needs the flag; later runtimes have the feature and reject the flag.
    const flags = canReadExactIntegers ? [] : ['--harmony-json-parse-with-source'];
    const out = execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.trim()).toBe('bigint 12345678901234567890123 number 1.5');
    if (!canReadExactIntegers) expect(() => readJournal(file, { data: 'bigint' })).toThrow(/Node 22 or later/);
  });

  it('a JSON.rawJSON value, where the runtime has it, is stored as its text (node --harmony-json-parse-with-source on Node 20)', async () => {
    const file = tmpJournal();
    const script = `
      const { Journal } = await import(${JSON.stringify(path.join(ROOT, 'dist/index.js'))});
      const j = await Journal.open(${JSON.stringify(file)});
      await j.append({ id: JSON.rawJSON('12345678901234567890123'), list: [JSON.rawJSON('1.000000000000000000001')] });
      await j.close();`;
    const flags = typeof (JSON as { rawJSON?: unknown }).rawJSON === 'function' ? [] : ['--harmony-json-parse-with-source'];
    execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(bytesOf(file).toString()).toContain('"data":{"id":12345678901234567890123,"list":[1.000000000000000000001]}');
  });

  it('rawJson refuses what is not JSON, or a number too large for any double: INVALID_VALUE', () => {
    expect(() => rawJson('{nope')).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_VALUE }));
    expect(() => rawJson('{"n":1e400}')).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_VALUE, message: expect.stringContaining('value.n') }));
  });
});
