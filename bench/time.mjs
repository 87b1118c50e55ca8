// Reading by time and the last records of a 1 GB journal with the whole `journal cat` command,
// against reading all of it: cat --last 10, cat --since T --limit 10, and a full cat to /dev/null;
// the same through the library in this process; cat --last 10 of a journal 100 times smaller; and
// the start of the command and of a bare Node process, the floor under every command.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Journal, readJournal } from 'jsonl-journal';
import { event, fmtMs, median, ROOT, scratchDir, table } from './lib.mjs';

const BIN = path.join(ROOT, 'dist/cli/main.js');
const TARGET_BYTES = 1024 * 1024 * 1024;

/** Runs the command with its output thrown away; resolves with the wall time in ms. */
function timed(args, bin = BIN) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(process.execPath, [...(bin === null ? [] : [bin]), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${args.join(' ')}: exit ${code}`))));
  });
}

/** Appends records of ~140 bytes, one ms apart, until the file holds `bytes`; returns the count and the first ts. */
async function build(file, bytes) {
  const j = await Journal.open(file, { durability: 'unsafe-nosync' });
  const t0 = Date.now();
  let n = 0;
  while (fs.statSync(file).size < bytes) {
    // One ms of time per record, so that --since lands in the middle by time.
    await j.appendMany(Array.from({ length: 5000 }, (_, i) => event(n + i)), { ts: Array.from({ length: 5000 }, (_, i) => t0 + n + i) });
    n += 5000;
  }
  await j.close();
  return { n, t0 };
}

/** Reads with the library in this process; resolves with the wall time in ms. */
async function readTimed(file, opts) {
  const t0 = performance.now();
  for await (const _ of readJournal(file, opts));
  return performance.now() - t0;
}

export async function run(args) {
  const dir = scratchDir('time');
  const file = path.join(dir, 'big.jsonl');
  const small = path.join(dir, 'small.jsonl');
  const { n, t0 } = await build(file, TARGET_BYTES);
  await build(small, TARGET_BYTES / 100);
  const mb = fs.statSync(file).size / 1e6;
  const middle = t0 + Math.floor(n / 2);
  const rows = { full: [], last: [], since: [], start: [], node: [], small: [], apiFull: [], apiLast: [], apiSince: [] };
  for (let r = 0; r < args.rounds; r++) {
    rows.node.push(await timed(['-e', '0'], null));
    rows.start.push(await timed(['--version']));
    rows.last.push(await timed(['cat', file, '--last', '10']));
    rows.small.push(await timed(['cat', small, '--last', '10']));
    rows.since.push(await timed(['cat', file, '--since', String(middle), '--limit', '10']));
    rows.full.push(await timed(['cat', file]));
    rows.apiLast.push(await readTimed(file, { last: 10 }));
    rows.apiSince.push(await readTimed(file, { fromTs: middle, untilTs: middle + 9 }));
    rows.apiFull.push(await readTimed(file, { data: 'text' }));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const ratio = (xs, of = rows.full) => `${(100 * median(xs.map((x, i) => x / of[i]))).toFixed(2)}%`;
  const work = rows.last.map((x, i) => x - rows.start[i]);
  return table([`a ${mb.toFixed(0)} MB journal, ${n.toLocaleString('en-US')} records`, 'median ms', 'of a full read', 'target'], [
    ['journal cat (every record, to /dev/null)', fmtMs(median(rows.full)), '100%', ''],
    ['journal cat --last 10', fmtMs(median(rows.last)), ratio(rows.last), '< 1%'],
    ['journal cat --last 10, less the process start', fmtMs(median(work)), ratio(work), ''],
    ['journal cat --last 10 of a journal of 1/100 the size', fmtMs(median(rows.small)), ratio(rows.small), ''],
    ['journal cat --since T --limit 10 (T in the middle)', fmtMs(median(rows.since)), ratio(rows.since), ''],
    ['journal --version (process start, the floor of every command)', fmtMs(median(rows.start)), ratio(rows.start), ''],
    ['node -e 0 (a bare Node process)', fmtMs(median(rows.node)), ratio(rows.node), ''],
    ['readJournal, every record (data as text), in-process', fmtMs(median(rows.apiFull)), '100%', ''],
    ['readJournal { last: 10 }, in-process', fmtMs(median(rows.apiLast)), ratio(rows.apiLast, rows.apiFull), '< 1%'],
    ['readJournal { fromTs, untilTs } of 10 records, in-process', fmtMs(median(rows.apiSince)), ratio(rows.apiSince, rows.apiFull), ''],
  ]);
}
