import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as main from '../src/index.js';
import { Journal, readJournal } from '../src/index.js';
import * as readEntry from '../src/read/index.js';
import { Child, countReads, JOURNAL_BIN, readAll, tmpDir, tmpJournal } from './helpers.js';

describe('reader', () => {
  it('fromSeq seeks by bisection: a few small reads, not a scan from the top', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    for (let b = 0; b < 100; b++) await j.appendMany(Array.from({ length: 1000 }, (_, i) => ({ b, i, pad: 'q'.repeat(60) })));
    await j.close();
    const size = fs.statSync(file).size;
    const read = countReads();
    for (const target of [1, 2, 999, 1000, 1001, 50_000, 77_777, 99_999, 100_000]) {
      read.reads = 0;
      read.bytes = 0;
      const it = readJournal(file, { fromSeq: target });
      const first = await it.next();
      await it.return();
      expect(first.value).toMatchObject({ seq: target });
      if (target > 1000) {
        expect(read.reads).toBeLessThan(40);
        expect(read.bytes).toBeLessThan(size / 3);
      }
    }
    expect(size).toBeGreaterThan(9_000_000);
  });

  it('fromSeq past the end yields nothing; fromSeq in a compacted gap starts at the next record', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany([1, 2, 3]);
    await j.close();
    expect(await readAll(file, { fromSeq: 4 })).toEqual([]);
    expect((await readAll(file, { fromSeq: 2 })).map((r) => r.seq)).toEqual([2, 3]);
    expect(() => readJournal(file, { fromSeq: 0 })).toThrow(RangeError);
  });

  it('records come back intact whatever mix of line lengths and non-ASCII text a chunk holds', async () => {
    // Lines are decoded in runs of a chunk: a line longer than a run, and a run that is not ASCII,
    // each take another path than the common one.
    const file = tmpJournal();
    const values: unknown[] = [];
    for (let k = 0; k < 300; k++) {
      if (k % 97 === 5) values.push({ k, big: 'x'.repeat(70_000 + k * 900) });
      else if (k % 13 === 7) values.push({ k, s: 'é✓😀'.repeat(k % 5 + 1) });
      else values.push({ k, pad: 'p'.repeat((k * 7919) % 3000) });
    }
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    for (let i = 0; i < values.length; i += 25) await j.appendMany(values.slice(i, i + 25));
    await j.close();
    expect((await readAll(file)).map((r) => r.data)).toEqual(values);
  });

  it('break and return() close the file; an aborted signal ends the iteration', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany(Array.from({ length: 100 }, (_, i) => i));
    await j.close();
    const fdsBefore = fs.readdirSync('/proc/self/fd').length;
    for await (const r of readJournal(file)) if (r.seq === 10) break;
    expect(fs.readdirSync('/proc/self/fd').length).toBe(fdsBefore);
    const ac = new AbortController();
    const got: number[] = [];
    for await (const r of readJournal(file, { signal: ac.signal })) {
      got.push(r.seq);
      if (r.seq === 5) ac.abort();
    }
    expect(got).toEqual([1, 2, 3, 4, 5]);
    expect(fs.readdirSync('/proc/self/fd').length).toBe(fdsBefore);
    {
      await using it = readJournal(file);
      await it.next();
    }
    expect(fs.readdirSync('/proc/self/fd').length).toBe(fdsBefore);
  });

  it('a journal of 1 GB replays in bounded memory', async () => {
    const file = tmpJournal();
    const build = new Child('replay-rss.mjs', ['build', file, '1024']);
    expect((await build.exited).code, build.stderr).toBe(0);
    // A heap of 64 MB: a reader that kept a share of what it read would run out of it.
    const c = new Child('replay-rss.mjs', ['replay', file], { NODE_OPTIONS: '--max-old-space-size=64' });
    expect((await c.exited).code, c.stderr).toBe(0);
    const [, rss, , retained, , records] = c.lines.find((l) => l.startsWith('rss'))!.split(' ');
    expect(Number(records)).toBeGreaterThan(4_000_000);
    expect(Number(retained)).toBeLessThan(16 * 1024 * 1024);
    // About 78 MB on Node 20, 84 MB on Node 22, and 89 to 92 MB on Node 24 and 26. Records parsed
    // and kept until their batch's commit mark once made V8 grow the young generation to its limit,
    // 64 MB per semi-space on Node 22 and later on a large machine: 190 MB.
    expect(Number(rss)).toBeLessThan(100 * 1024 * 1024);
  }, 180_000);
});

describe('jsonl-journal/read, the read-only entry', () => {
  it('exports the main entry\'s own functions and classes', () => {
    expect(Object.keys(readEntry).length).toBeGreaterThan(8);
    for (const [name, value] of Object.entries(readEntry)) expect(main[name as keyof typeof main], name).toBe(value);
    expect(new readEntry.JournalError(main.ErrorCode.CLOSED, 'x')).toBeInstanceOf(main.JournalError);
  });

  it('reads without loading the writer, compaction or consumers, and so does journal cat', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany([1, 2, 3]);
    await j.close();
    // A resolve hook in the child names every module file it loads.
    const hooks = path.join(tmpDir(), 'hooks.mjs');
    fs.writeFileSync(hooks, `export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.startsWith('file:')) process.stderr.write('LOADED ' + r.url + '\\n'); return r; }`);
    const register = `data:text/javascript,import { register } from 'node:module'; register(${JSON.stringify(`file://${hooks}`)});`;
    const loaded = (args: string[]) => {
      const r = spawnSync(process.execPath, ['--import', register, ...args], { cwd: path.dirname(JOURNAL_BIN), encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const files = new Set(r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice('LOADED '.length)));
      return { stdout: r.stdout, files: [...files] };
    };
    const lib = loaded(['--input-type=module', '-e', `const { readJournal } = await import('jsonl-journal/read'); for await (const r of readJournal(${JSON.stringify(file)})) console.log(r.seq);`]);
    const cat = loaded([JOURNAL_BIN, 'cat', '--last', '2', '--data', file]);
    expect(lib.stdout).toBe('1\n2\n3\n');
    expect(cat.stdout).toBe('2\n3\n');
    for (const { files } of [lib, cat]) {
      expect(files.some((f) => f.endsWith('/read/reader.js'))).toBe(true);
      expect(files.filter((f) => /\/(write|compact|consume|positions|nats)\//.test(f))).toEqual([]);
    }
  });
});
