// `journal import` and `journal export` of a 100 MB pino log, whole commands, against raw loops
// over the same file in the same run, and the peak RSS of each command.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fdatasync, fmtRatio, median, pwrite, ROOT, scratchDir, settle, table } from './lib.mjs';

const pino = createRequire(import.meta.url)('pino');

const BIN = path.join(ROOT, 'dist/cli/main.js');
/** Loaded before a command: at its exit, writes its peak RSS (getrusage's maxrss) to PEAK_RSS_FILE. */
const PEAK_RSS = pathToFileURL(path.join(ROOT, 'test/fixtures/peak-rss.mjs')).href;
const TARGET_MB = 100;
/** Lines per write + fdatasync in the raw loops: what import appends as one group. */
const GROUP = 1000;

/** A pino log of requests from child loggers, some lines with unicode or integers beyond a double. */
function pinoLog(file) {
  const dest = pino.destination({ dest: file, sync: true });
  const log = pino({ level: 'info' }, dest);
  const api = log.child({ service: 'api', region: 'eu-west-1' });
  const reqs = Array.from({ length: 64 }, (_, k) => api.child({ reqId: `req-${k}`, route: '/api/orders/:id' }));
  for (let i = 0; fs.fstatSync(dest.fd).size < TARGET_MB * 1e6; i++) {
    for (let k = 0; k < 1000; k++) {
      const req = reqs[k & 63];
      if (k % 100 === 0) req.warn({ user: 'Zoë Ångström', path: '/заказы/日本', id: 12345678901234567890123n }, 'slow request');
      else req.info({ user: `u${(i * 1000 + k) % 997}`, status: 200, ms: k % 300 }, 'request handled');
    }
  }
  dest.flushSync();
  dest.end();
}

/** Lines of a file, read in 512 KiB chunks as import reads it, to `fn` a chunk's worth at a time. */
async function eachLines(file, fn) {
  let carry = Buffer.alloc(0);
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 512 * 1024 })) {
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    const end = buf.lastIndexOf(10);
    await fn(buf.toString('utf8', 0, end).split('\n'));
    carry = buf.subarray(end + 1);
  }
}

/**
 * The raw loops: each line read and JSON.parse-d (the least a command that checks its input does),
 * then written to a new file; with `sync`, a write and an fdatasync per 1,000 lines (import's
 * durability), else a write per chunk read (export syncs nothing). No checksums, no framing.
 */
async function rawLines(from, to, sync) {
  const t = performance.now();
  const fd = fs.openSync(to, 'w');
  let pos = 0;
  let group = [];
  const flush = async () => {
    pos += await pwrite(fd, Buffer.from(`${group.join('\n')}\n`), pos);
    group = [];
    if (sync) await fdatasync(fd);
  };
  await eachLines(from, async (lines) => {
    for (const l of lines) {
      JSON.parse(l);
      group.push(l);
      if (sync && group.length === GROUP) await flush();
    }
    if (!sync) await flush();
  });
  if (group.length > 0) await flush();
  fs.closeSync(fd);
  fs.rmSync(to);
  return performance.now() - t;
}

/** The floor: the log read in 512 KiB chunks and written to a file, no checks, no fsync. */
function rawCopy(from, to) {
  const t = performance.now();
  const src = fs.openSync(from, 'r');
  const dst = fs.openSync(to, 'w');
  const buf = Buffer.allocUnsafe(512 * 1024);
  for (let n; (n = fs.readSync(src, buf, 0, buf.length, null)) > 0;) fs.writeSync(dst, buf, 0, n);
  fs.closeSync(src);
  fs.closeSync(dst);
  fs.rmSync(to);
  return performance.now() - t;
}

/** Runs the command with its stdout to `stdout` (a file) or ignored; its time and peak RSS. */
function command(args, rssFile, stdout = null) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const out = stdout === null ? 'ignore' : fs.openSync(stdout, 'w');
    const c = spawn(process.execPath, ['--import', PEAK_RSS, BIN, ...args], { stdio: ['ignore', out, 'inherit'], env: { ...process.env, PEAK_RSS_FILE: rssFile } });
    c.on('exit', (code) => {
      if (typeof out === 'number') fs.closeSync(out);
      if (code !== 0) reject(new Error(`journal ${args.join(' ')} exited ${code}`));
      else resolve({ ms: performance.now() - t, rss: Number(fs.readFileSync(rssFile, 'utf8')) });
    });
  });
}

export async function run(args) {
  const dir = scratchDir('import-export');
  const log = path.join(dir, 'app.log');
  pinoLog(log);
  const mb = fs.statSync(log).size / 1e6;
  const lines = fs.readFileSync(log, 'utf8').split('\n').length - 1;
  const file = path.join(dir, 'events.jsonl');
  const out = path.join(dir, 'export.jsonl');
  const rss = path.join(dir, 'rss');
  const rows = { rawIn: [], imp: [], rawOut: [], exp: [], copy: [], impRss: [], expRss: [] };
  const tmp = path.join(dir, 'raw.tmp');
  for (let r = 0; r < args.rounds; r++) {
    settle();
    rows.rawIn.push(mb / ((await rawLines(log, tmp, true)) / 1000));
    settle();
    fs.rmSync(file, { force: true });
    const imp = await command(['import', log, file, '--time-field', 'time'], rss);
    rows.imp.push(mb / (imp.ms / 1000));
    rows.impRss.push(imp.rss / 1e6);
    settle();
    rows.rawOut.push(mb / ((await rawLines(log, tmp, false)) / 1000));
    settle();
    const exp = await command(['export', file], rss, out);
    rows.exp.push(mb / (exp.ms / 1000));
    rows.expRss.push(exp.rss / 1e6);
    if (!fs.readFileSync(out).equals(fs.readFileSync(log))) throw new Error('export did not give back the imported log byte for byte');
    settle();
    rows.copy.push(mb / (rawCopy(log, tmp) / 1000));
  }
  const journalMb = fs.statSync(file).size / 1e6;
  fs.rmSync(dir, { recursive: true, force: true });
  const per = (a, b) => median(a.map((x, i) => x / b[i]));
  return table([`a pino log of ${mb.toFixed(0)} MB (${lines.toLocaleString('en-US')} lines; ${journalMb.toFixed(0)} MB as a journal)`, 'median', 'target'], [
    ['raw: read lines, JSON.parse each, write + fdatasync per 1,000 lines, MB/s', median(rows.rawIn).toFixed(1), ''],
    ['journal import --time-field time (whole command, process start included), MB/s', median(rows.imp).toFixed(1), ''],
    ['import / raw', fmtRatio(per(rows.imp, rows.rawIn)), ''],
    ['raw: read lines, JSON.parse each, write them (no fsync), MB/s', median(rows.rawOut).toFixed(1), ''],
    ['journal export (whole command, to a file), MB/s of the log', median(rows.exp).toFixed(1), ''],
    ['export / raw', fmtRatio(per(rows.exp, rows.rawOut)), ''],
    ['raw copy of the log in 512 KiB chunks, no checks, MB/s', median(rows.copy).toFixed(0), ''],
    ['peak RSS of journal import, MB', median(rows.impRss).toFixed(0), '< 150'],
    ['peak RSS of journal export, MB', median(rows.expRss).toFixed(0), '< 150'],
  ]);
}
