// `journal import` and `journal export` end to end through the built command, on logs written by
// pino itself; and the two pieces import is made of: cutting lines from chunks, and reading times.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { LineSplitter, type Line } from '../src/cli/lines.js';
import { fieldTime } from '../src/cli/time-field.js';
import { Journal } from '../src/index.js';
import { flipByte, readAll, runJournal, tmpDir, tmpJournal, truncateTo, type CommandRun } from './helpers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const BIN = path.join(ROOT, 'dist/cli/main.js');
/** Loaded before the command: at its exit, writes its peak RSS to the file PEAK_RSS_FILE names. */
const PEAK_RSS = pathToFileURL(path.join(ROOT, 'test/fixtures/peak-rss.mjs')).href;

const journal = runJournal;
type Run = CommandRun;

/** A journal command's peak RSS in bytes, and what it printed. */
async function peakRss(args: string[], node: string[] = []): Promise<Run & { rss: number }> {
  const out = path.join(tmpDir(), 'rss');
  const r = await journal(args, { node: [...node, '--import', PEAK_RSS], env: { PEAK_RSS_FILE: out } });
  // A command that died (out of memory) wrote none: its exit code and stderr say why.
  return { ...r, rss: fs.existsSync(out) ? Number(fs.readFileSync(out, 'utf8')) : Number.NaN };
}

/**
 * A log written by pino to a file: every level, child loggers with their bindings, unicode, an
 * error with its stack, integers beyond a double (pino writes a BigInt's digits), and its `time`.
 * With `mb`, lines of requests until the file is that large.
 */
function pinoLog(file: string, opts: { mb?: number; timestamp?: pino.LoggerOptions['timestamp'] } = {}): string {
  const dest = pino.destination({ dest: file, sync: true });
  const log = pino({ level: 'trace', ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}) }, dest);
  const api = log.child({ service: 'api', region: 'eu-west-1' });
  const req = api.child({ reqId: 'c0ffee', user: { id: 12345678901234567890123n, name: 'Zoë Ångström' } });
  log.trace('trace line');
  log.debug({ config: { retries: 3, backoff: [0.1, 0.25, 1e21] } }, 'debug line');
  api.info({ port: 8080 }, 'listening');
  req.info({ path: '/привет/世界', emoji: '🎉👩‍💻', rtl: 'שלום', escaped: 'tab\tquote" backslash\\ nul\u0000' }, 'unicode');
  req.warn({ big: 98765432109876543210n, negative: -12345678901234567890123n }, 'big integers');
  api.error(new Error('boom'), 'failed');
  log.fatal({ exitCode: 1 }, 'fatal line');
  log.info('');
  const children = Array.from({ length: 16 }, (_, k) => api.child({ reqId: `req-${k}`, route: '/api/orders/:id' }));
  for (let i = 0; opts.mb !== undefined && fs.fstatSync(dest.fd).size < opts.mb * 1e6; i++) {
    for (let k = 0; k < 1000; k++) children[k & 15]!.info({ user: `u${(i * 1000 + k) % 997}`, status: 200, ms: k % 300 }, 'request handled');
  }
  dest.flushSync();
  dest.end();
  return fs.readFileSync(file, 'utf8');
}

const lf = (s: string) => s.split('\n').filter((l) => l !== '');

describe('journal import and export', () => {
  it('import --time-field time, then export, gives back a real pino log byte for byte, each record at its line\'s time', async () => {
    const dir = tmpDir();
    const log = pinoLog(path.join(dir, 'app.log'));
    expect(log).toContain('"id":12345678901234567890123');
    const file = path.join(dir, 'events.jsonl');
    const r = await journal(['import', path.join(dir, 'app.log'), file, '--time-field', 'time']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = lf(log);
    expect(r.stdout).toBe(`imported ${lines.length} records from ${lines.length} lines of ${path.join(dir, 'app.log')}, seq 1..${lines.length}\n`);
    const recs = await readAll(file, { data: 'text' });
    expect(recs.map((x) => x.ts)).toEqual(lines.map((l) => (JSON.parse(l) as { time: number }).time));
    expect(recs.map((x) => x.data)).toEqual(lines);
    const e = await journal(['export', file]);
    expect(e).toMatchObject({ code: 0, stderr: '' });
    expect(e.stdout).toBe(log);
  });

  it('--time-field reads ISO 8601 times with their zone (pino\'s isoTime)', async () => {
    const dir = tmpDir();
    const log = pinoLog(path.join(dir, 'app.log'), { timestamp: pino.stdTimeFunctions.isoTime });
    expect(log).toMatch(/"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/);
    const file = path.join(dir, 'events.jsonl');
    expect((await journal(['import', path.join(dir, 'app.log'), file, '--time-field', 'time'])).code).toBe(0);
    expect((await readAll(file)).map((x) => x.ts)).toEqual(lf(log).map((l) => Date.parse((JSON.parse(l) as { time: string }).time)));
    expect((await journal(['export', file])).stdout).toBe(log);
  });

  it('bad lines are skipped and named by number, the rest imported, exit 65', async () => {
    const dir = tmpDir();
    const input = path.join(dir, 'in.jsonl');
    fs.writeFileSync(input, Buffer.concat([
      Buffer.from([
        '{"time":1700000000000,"n":1}',
        'not json',
        '{"time":1700000000001,"n":1e400}',
        '{"n":3}',
        '{"time":"yesterday"}',
        '{"time":"2026-02-30T10:00:00Z"}',
        '{"time":"2026-01-01T10:00:00"}',
        '{"time":-1}',
        '[1,2]',
        '',
        '{"time":"2026-01-01T10:00:00.250+01:00","n":11}\r',
        '',
      ].join('\n')),
      Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d, 0x0a]),
      Buffer.from('{"time":1767261600251,"n":13}\n{"time":1767261600252,"n":'),
    ]));
    const file = path.join(dir, 'events.jsonl');
    const r = await journal(['import', input, file, '--time-field', 'time']);
    expect(r.code).toBe(65);
    expect(r.stderr.split('\n')).toEqual([
      `journal: ${input} line 2: not valid JSON: Unexpected token 'o', "not json" is not valid JSON`,
      `journal: ${input} line 3: value.n: a number too large for any double`,
      `journal: ${input} line 4: no "time" field`,
      `journal: ${input} line 5: "time" field: "yesterday" is not an ISO 8601 date and time with a zone (Z or ±hh:mm)`,
      `journal: ${input} line 6: "time" field: "2026-02-30T10:00:00Z" is not a date and time that exists`,
      `journal: ${input} line 7: "time" field: "2026-01-01T10:00:00" is not an ISO 8601 date and time with a zone (Z or ±hh:mm)`,
      `journal: ${input} line 8: "time" field: -1 is before 1970, which a journal cannot store`,
      `journal: ${input} line 9: no "time" field`,
      `journal: ${input} line 12: not valid UTF-8`,
      `journal: ${input} line 14: not valid JSON: Unexpected end of JSON input (the last line, with no newline after it: cut short?)`,
      '',
    ]);
    expect(r.stdout).toBe(`imported 3 records from 14 lines of ${input}, seq 1..3; skipped 10 bad lines\n`);
    const recs = await readAll(file, { data: 'text' });
    expect(recs.map((x) => [x.ts, x.data])).toEqual([
      [1700000000000, '{"time":1700000000000,"n":1}'],
      [1767258000250, '{"time":"2026-01-01T10:00:00.250+01:00","n":11}'],
      [1767261600251, '{"time":1767261600251,"n":13}'],
    ]);
  });

  it('a line too large for a record is skipped and named, and the lines of its group around it imported', async () => {
    const dir = tmpDir();
    const input = path.join(dir, 'in.jsonl');
    const huge = (bytes: number) => `"${'x'.repeat(bytes - 2)}"`;
    // Just under 16 MiB: the journal refuses it (with its envelope it exceeds a record); just over:
    // it is dropped as it is read, never held whole.
    fs.writeFileSync(input, ['{"n":1}', huge(16 * 1024 * 1024 - 16), '{"n":3}', huge(16 * 1024 * 1024 + 16), '{"n":5}', ''].join('\n'));
    const file = path.join(dir, 'events.jsonl');
    const r = await journal(['import', input, file]);
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(new RegExp(`^journal: ${input} line 2: too large for a record: \\d+ bytes of JSON exceeds maxRecordBytes \\(16777216\\)\njournal: ${input} line 4: longer than 16 MiB, more than a record can hold\n$`));
    expect(r.stdout).toBe(`imported 3 records from 5 lines of ${input}, seq 1..3; skipped 2 bad lines\n`);
    expect((await readAll(file)).map((x) => x.data)).toEqual([{ n: 1 }, { n: 3 }, { n: 5 }]);
    // On a slow disk line 4 is read while line 2's group is still being appended: the messages
    // still come in line order.
    const slow = `data:text/javascript,import { io } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/fs/io.js')).href)};
      for (const f of ['fsync', 'fdatasync']) { const orig = io[f]; io[f] = async (fd) => { await new Promise((r) => setTimeout(r, 300)); return orig(fd); }; }`;
    fs.rmSync(file);
    const s = await journal(['import', input, file], { node: ['--import', slow] });
    expect(s.stderr).toBe(r.stderr);
    expect(s.code).toBe(65);
  });

  it('import appends after the journal\'s records, a time below its last one raised to it; empty input creates nothing', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    await j.appendMany([{ a: 1 }, { a: 2 }], { ts: 1800000000000 });
    await j.close();
    const r = await journal(['import', '-', file, '--time-field', 't'], { input: '{"t":1700000000000,"b":1}\n\n{"t":1900000000000,"b":2}\n' });
    expect(r).toEqual({ code: 0, stdout: 'imported 2 records from 3 lines of stdin, seq 3..4\n', stderr: '' });
    expect((await readAll(file)).map((x) => [x.seq, x.ts, x.data])).toEqual([
      [1, 1800000000000, { a: 1 }], [2, 1800000000000, { a: 2 }], [3, 1800000000000, { t: 1700000000000, b: 1 }], [4, 1900000000000, { t: 1900000000000, b: 2 }],
    ]);

    const none = tmpJournal();
    const empty = path.join(tmpDir(), 'empty.jsonl');
    fs.writeFileSync(empty, '');
    expect(await journal(['import', empty, none])).toEqual({ code: 0, stdout: 'imported 0 records (no input)\n', stderr: '' });
    expect(await journal(['import', '-', none], { input: '\n  \n\r\n' })).toEqual({ code: 0, stdout: 'imported 0 records from 3 lines of stdin\n', stderr: '' });
    const allBad = await journal(['import', '-', none], { input: '{nope\n' });
    expect(allBad).toMatchObject({ code: 65, stdout: 'imported 0 records from 1 line of stdin; skipped 1 bad line\n' });
    expect(fs.existsSync(none)).toBe(false);
  });

  it('without --time-field, each record\'s time is the time of the import', async () => {
    const file = tmpJournal();
    const t0 = Date.now();
    expect((await journal(['import', '-', file], { input: '{"time":1}\n"plain"\n' })).code).toBe(0);
    for (const rec of await readAll(file)) expect(rec.ts).toBeGreaterThanOrEqual(t0);
  });

  it('a missing input, or a journal that is not one (arguments swapped), is exit 3 and changes nothing', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'events.jsonl');
    const missing = await journal(['import', path.join(dir, 'nope.log'), file]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe(`journal: ENOENT: no such file or directory, open '${path.join(dir, 'nope.log')}'\n`);
    expect(fs.existsSync(file)).toBe(false);
    const log = path.join(dir, 'app.log');
    fs.writeFileSync(log, '{"a":1}\n');
    expect((await journal(['import', log, file])).code).toBe(0);
    const swapped = await journal(['import', file, log]);
    expect(swapped.code).toBe(3);
    expect(swapped.stderr).toContain('is not a jsonl-journal file');
    expect(fs.readFileSync(log, 'utf8')).toBe('{"a":1}\n');
  });

  it('usage errors: exit 64 with the usage line', async () => {
    for (const args of [['import'], ['import', 'a.log'], ['import', 'a', 'b', 'c'], ['import', 'a', 'b', '--time-field', ''], ['export'], ['export', 'j', '--from-seq', '0']]) {
      const r = await journal(args);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(new RegExp(`^journal: .+\\nUsage: journal ${args[0]} `));
    }
  });

  it.each(['import', 'export'])('%s --help prints its usage, options and exit codes on stdout, exit 0; journal --help lists it', async (name) => {
    const r = await journal([name, '--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^Usage: journal ${name} `));
    expect(r.stdout).toMatch(/\nExit codes: 0 [^]*\b64 usage error\.\n$/);
    expect((await journal(['--help'])).stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
  });

  it('Ctrl-C stops an import from an idle pipe: what was read is appended, the summary says where to go on, exit 3', async () => {
    const file = tmpJournal();
    const c = spawn(process.execPath, [BIN, 'import', '-', file], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise((r) => c.on('exit', r));
    // A full group of 1,000 lines is appended as soon as it is read: then the import is running.
    c.stdin.write(Array.from({ length: 1005 }, (_, i) => `{"i":${i}}\n`).join(''));
    for (const t0 = Date.now(); !fs.existsSync(file) || (await readAll(file)).length < 1000; await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() - t0 > 10_000) throw new Error(`nothing imported; stderr: ${stderr}`);
    }
    c.stdin.write('{"cut":');
    await new Promise((r) => setTimeout(r, 100));
    c.kill('SIGINT');
    expect(await exited).toBe(3);
    expect(stderr).toBe('journal: interrupted\n');
    const n = (await readAll(file)).length;
    expect(n).toBeGreaterThanOrEqual(1000);
    expect(n).toBeLessThanOrEqual(1005);
    expect(stdout).toBe(`imported ${n.toLocaleString('en-US')} records from lines 1..${n.toLocaleString('en-US')} of stdin, seq 1..${n.toLocaleString('en-US')}; nothing after line ${n.toLocaleString('en-US')} was imported\n`);
    c.stdin.destroy();
  });

  it('export --from-seq starts there; a torn tail ends it quietly; damage in the middle is exit 2 after the records before it', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    const offsets: number[] = [];
    for (let i = 1; i <= 10; i++) offsets.push((await j.append({ n: i })).offset);
    await j.close();
    expect((await journal(['export', file, '--from-seq', '9'])).stdout).toBe('{"n":9}\n{"n":10}\n');
    const torn = tmpJournal();
    fs.copyFileSync(file, torn);
    truncateTo(torn, offsets[9]! + 20);
    expect(await journal(['export', torn])).toEqual({ code: 0, stdout: Array.from({ length: 9 }, (_, i) => `{"n":${i + 1}}\n`).join(''), stderr: '' });
    flipByte(file, offsets[5]! + 12);
    const r = await journal(['export', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(Array.from({ length: 5 }, (_, i) => `{"n":${i + 1}}\n`).join(''));
    expect(r.stderr).toContain(`offset ${offsets[5]}`);
  });

  it('export | head -1 ends quietly, exit 0', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    for (let k = 0; k < 20; k++) await j.appendMany(Array.from({ length: 1000 }, (_, i) => ({ k, i, pad: 'x'.repeat(100) })));
    await j.close();
    const b = spawnSync('bash', ['-c', `${process.execPath} ${BIN} export ${file} | head -1; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 10_000 });
    expect(b.stdout).toBe(`{"k":0,"i":0,"pad":"${'x'.repeat(100)}"}\n0\n`);
    expect(b.stderr).toBe('');
  });

  it('export into a slow reader waits for it without piling up listeners (MaxListenersExceededWarning)', async () => {
    const file = tmpJournal();
    const j = await Journal.open(file);
    for (let k = 0; k < 20; k++) await j.appendMany(Array.from({ length: 1000 }, (_, i) => ({ k, i, pad: 'x'.repeat(200) })));
    await j.close();
    const b = spawnSync('bash', ['-c', `${process.execPath} ${BIN} export ${file} | while IFS= read -r l; do n=$((n+1)); done; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 60_000 });
    expect(b).toMatchObject({ stdout: '0\n', stderr: '' });
  });

  it('import and export of a pino log twice the size of their heap: peak RSS does not grow with the log', async () => {
    const dir = tmpDir();
    const big = pinoLog(path.join(dir, 'big.log'), { mb: 32 });
    // A prefix of a quarter of it, cut at a line's end.
    const small = big.slice(0, big.indexOf('\n', big.length / 4) + 1);
    fs.writeFileSync(path.join(dir, 'small.log'), small);
    // A heap of 16 MB (the commands keep about 7 MB alive) cannot hold the log: a command that
    // kept it, or its records, would die of it. The young generation capped at 1 MB makes RSS follow
    // what is alive: by default up to 48 MB of garbage waiting for a scavenge would hide it.
    const flags = ['--max-old-space-size=16', '--max-semi-space-size=1'];
    const rss: Record<string, number> = {};
    for (const name of ['small', 'big']) {
      const file = path.join(dir, `${name}.jsonl`);
      const i = await peakRss(['import', path.join(dir, `${name}.log`), file, '--time-field', 'time'], flags);
      expect(i).toMatchObject({ code: 0, stderr: '' });
      const e = await peakRss(['export', file], flags);
      expect(e).toMatchObject({ code: 0, stderr: '' });
      expect(e.stdout === (name === 'big' ? big : small)).toBe(true);
      rss[`import ${name}`] = i.rss;
      rss[`export ${name}`] = e.rss;
    }
    // Memory outside the heap (Buffers) is not capped: holding the 24 MB more of the big log there
    // would show here.
    const grown = (what: string) => (rss[`${what} big`]! - rss[`${what} small`]!) / 1e6;
    expect(grown('import'), JSON.stringify(rss)).toBeLessThan(6);
    expect(grown('export'), JSON.stringify(rss)).toBeLessThan(6);
  });
});

describe('import\'s lines', () => {
  /** What the lines of `bytes` are, split in one piece: the reference for any chunking. */
  function reference(bytes: Buffer, max: number): Line[] {
    const out: Line[] = [];
    let no = 0;
    for (let from = 0; from < bytes.length;) {
      let lf = bytes.indexOf(0x0a, from);
      if (lf < 0) lf = bytes.length;
      const line = bytes.subarray(from, lf);
      const body = line.at(-1) === 0x0d ? line.subarray(0, -1) : line;
      no++;
      if (line.length > max) out.push({ no, error: 'too long' });
      else if (!Buffer.from(body.toString('utf8')).equals(body)) out.push({ no, error: 'not valid UTF-8' });
      else out.push({ no, text: body.toString('utf8') });
      from = lf + 1;
    }
    return out;
  }

  it('the same lines however the input is cut into chunks: CRLF, invalid UTF-8 split across chunks, lines too long, no LF at the end', () => {
    const piece = fc.oneof(
      fc.constantFrom('\n', '\r\n', '\r', '{"a":1}', 'é', '日本', '🎉', '\u2028'),
      fc.uint8Array({ minLength: 1, maxLength: 3 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    fc.assert(fc.property(fc.array(piece, { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), (pieces, cuts, latin1) => {
      const bytes = Buffer.concat(pieces.map((p) => Buffer.from(p, /^[\x00-\xff]*$/.test(p) && latin1 ? 'latin1' : 'utf8')));
      const max = 24;
      const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const s = new LineSplitter(max);
      const got: Line[] = [];
      let from = 0;
      for (const c of [...at, bytes.length]) {
        got.push(...s.push(bytes.subarray(from, c)));
        from = c;
      }
      got.push(...s.end());
      const want = reference(bytes, max);
      expect(got.map((l) => (l.error?.startsWith('longer than') === true ? { no: l.no, error: 'too long' } : l))).toEqual(want);
      expect(s.lines).toBe(want.length);
    }), { numRuns: 2000, seed: 17 });
  });

  it('a line with no LF in it at all is dropped as it comes, not held', () => {
    const s = new LineSplitter(1024);
    const got: Line[] = [];
    for (let i = 0; i < 1000; i++) got.push(...s.push(Buffer.alloc(4096, 0x61)));
    got.push(...s.push(Buffer.from('\n"next"\n')));
    expect(got).toEqual([{ no: 1, error: expect.stringMatching(/^longer than/) }, { no: 2, text: '"next"' }]);
  });
});

describe('import\'s times', () => {
  it.each([
    [1700000000000, 1700000000000],
    [1700000000000.9, 1700000000000],
    [0, 0],
    ['2026-01-01T10:00:00Z', Date.UTC(2026, 0, 1, 10)],
    ['2026-01-01T10:00:00.1234567Z', Date.UTC(2026, 0, 1, 10, 0, 0, 123)],
    ['2026-01-01 10:00:00,5z', Date.UTC(2026, 0, 1, 10, 0, 0, 500)],
    ['2026-01-01T10:00Z', Date.UTC(2026, 0, 1, 10)],
    ['2026-01-01T10:00:00+05:30', Date.UTC(2026, 0, 1, 4, 30)],
    ['2026-01-01T10:00:00-0800', Date.UTC(2026, 0, 1, 18)],
    ['2026-01-01T10:00:00+01', Date.UTC(2026, 0, 1, 9)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
  ])('%s is %s ms', (v, ms) => {
    expect(fieldTime(v)).toBe(ms);
  });

  it.each([
    [-1, 'before 1970'],
    [1e300, 'past the last time'],
    ['2026-01-01T10:00:00', 'not an ISO 8601 date and time with a zone'],
    ['2026-01-01', 'not an ISO 8601 date and time with a zone'],
    ['Thu, 01 Jan 2026 10:00:00 GMT', 'not an ISO 8601 date and time with a zone'],
    ['2023-02-29T00:00:00Z', 'not a date and time that exists'],
    ['2026-13-01T00:00:00Z', 'not a date and time that exists'],
    ['2026-01-01T24:00:00Z', 'not a date and time that exists'],
    ['2026-01-01T10:00:60Z', 'not a date and time that exists'],
    ['1969-12-31T23:59:59Z', 'before 1970'],
    ['1970-01-01T00:30:00+01:00', 'before 1970'],
    [null, 'null is neither'],
    [true, 'true is neither'],
    [{}, 'an object is neither'],
    [[1], 'an array is neither'],
  ])('%j is not a time: %s', (v, why) => {
    expect(fieldTime(v)).toContain(why);
  });
});
