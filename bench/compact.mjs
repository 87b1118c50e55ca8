// Compaction of a 1,000,000-record journal against a raw read + write + fsync copy of the same
// file, the peak RSS of a compacting process, and how long an appender is held back by the swap.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { compact, Journal, verify } from 'jsonl-journal';
import { event, fmtMs, fmtRatio, median, scratchDir, settle, table } from './lib.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const RECORDS = 1_000_000;

function child(script, args, { stdinOpen = false } = {}) {
  const c = spawn(process.execPath, [path.join(HERE, 'fixtures', script), ...args], { stdio: [stdinOpen ? 'pipe' : 'ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.on('data', (d) => (out += d));
  const done = new Promise((resolve, reject) => c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${script} exited ${code}`)))));
  return { c, done };
}

/** The baseline: read the file in 512 KiB chunks, write each to a new file, fsync it. */
function rawCopy(from, to) {
  const t = performance.now();
  const src = fs.openSync(from, 'r');
  const dst = fs.openSync(to, 'w');
  const buf = Buffer.allocUnsafe(512 * 1024);
  let pos = 0;
  for (let n; (n = fs.readSync(src, buf, 0, buf.length, pos)) > 0; pos += n) fs.writeSync(dst, buf, 0, n, pos);
  fs.fsyncSync(dst);
  fs.closeSync(src);
  fs.closeSync(dst);
  fs.rmSync(to);
  return performance.now() - t;
}

export async function run(args) {
  const dir = scratchDir('compact');
  const file = path.join(dir, 'compact.jsonl');
  const j = await Journal.open(file, { durability: 'unsafe-nosync' });
  for (let i = 0; i < RECORDS; i += 10_000) await j.appendMany(Array.from({ length: 10_000 }, (_, k) => event(i + k)));
  await j.flush();
  await j.close();
  const mb = fs.statSync(file).size / 1e6;
  const rows = { copy: [], verify: [], warm: [], alone: [], all: [], rss: [], stall: [], idle: [], during: [] };
  // Like the other sections, the timed runs in this process come after one that is not timed.
  await compact(file);
  for (let r = 0; r < args.rounds; r++) {
    settle();
    rows.copy.push(mb / (rawCopy(file, path.join(dir, 'copy.tmp')) / 1000));
    settle();
    const tv = performance.now();
    await verify(file);
    rows.verify.push(mb / ((performance.now() - tv) / 1000));
    // Compaction keeping everything (it writes as much as it reads), alone as the copy is: the ratio.
    settle();
    const warm = await compact(file);
    rows.warm.push(warm.bytesBefore / 1e6 / (warm.ms / 1000));
    // The same in a new process, whose code is compiled while it runs (as with `journal compact`).
    settle();
    const alone = await child('compact-once.mjs', [file, 'all']).done;
    rows.alone.push(alone.bytesBefore / 1e6 / (alone.ms / 1000));
    rows.rss.push(alone.maxRssBytes / 1e6);
    // Again with an appender running: what appends see, and what the compaction costs then.
    const idle = child('appender.mjs', [file], { stdinOpen: true });
    await new Promise((res) => setTimeout(res, 1000));
    idle.c.stdin.end();
    rows.idle.push((await idle.done).max);
    const app = child('appender.mjs', [file], { stdinOpen: true });
    await new Promise((res) => setTimeout(res, 200));
    const res = await child('compact-once.mjs', [file, 'all']).done;
    app.c.stdin.end();
    const lat = await app.done;
    rows.all.push(res.bytesBefore / 1e6 / (res.ms / 1000));
    rows.stall.push(res.stallMs);
    rows.during.push(lat.max);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const per = (a, b) => median(a.map((x, i) => x / b[i]));
  return [
    table(['compaction of 1,000,000 records (' + mb.toFixed(0) + ' MB)', 'median', 'target'], [
      ['raw read + write + fsync copy, MB/s of input', median(rows.copy).toFixed(0), ''],
      ['verify (read and check every line, write nothing), MB/s', median(rows.verify).toFixed(0), ''],
      ['compact (keep all), MB/s of input', median(rows.warm).toFixed(0), ''],
      ['compact / raw copy', fmtRatio(per(rows.warm, rows.copy)), '≥ 0.5×'],
      ['compact / verify', fmtRatio(per(rows.warm, rows.verify)), ''],
      ['compact in a new process (code compiled as it runs), MB/s of input', median(rows.alone).toFixed(0), ''],
      ['compact in a new process / raw copy', fmtRatio(per(rows.alone, rows.copy)), ''],
      ['compact while another process appends durably, MB/s of input', median(rows.all).toFixed(0), ''],
      ['peak RSS of the compacting process, MB', median(rows.rss).toFixed(0), ''],
      ['appends held back by the swap (stallMs), ms', fmtMs(median(rows.stall)), ''],
      ['longest append in another process during compaction, ms', fmtMs(median(rows.during)), ''],
      ['longest append in another process without compaction, ms', fmtMs(median(rows.idle)), ''],
    ]),
  ].join('\n');
}
