// Reading by time and the last records of a 1 GB journal with the whole `journal cat` command,
// against reading all of it: cat --last 10, cat --since T --limit 10, and a full cat to /dev/null.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Journal } from 'jsonl-journal';
import { event, fmtMs, median, ROOT, scratchDir, table } from './lib.mjs';

const BIN = path.join(ROOT, 'dist/cli/main.js');
const TARGET_BYTES = 1024 * 1024 * 1024;

/** Runs the command with its output thrown away; resolves with the wall time in ms. */
function timed(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${args.join(' ')}: exit ${code}`))));
  });
}

export async function run(args) {
  const dir = scratchDir('time');
  const file = path.join(dir, 'big.jsonl');
  const j = await Journal.open(file, { durability: 'unsafe-nosync' });
  const t0 = Date.now();
  let n = 0;
  while (fs.statSync(file).size < TARGET_BYTES) {
    // One ms of time per record, so that --since lands in the middle by time.
    await j.appendMany(Array.from({ length: 5000 }, (_, i) => event(n + i)), { ts: Array.from({ length: 5000 }, (_, i) => t0 + n + i) });
    n += 5000;
  }
  await j.close();
  const mb = fs.statSync(file).size / 1e6;
  const middle = String(t0 + Math.floor(n / 2));
  const rows = { full: [], last: [], since: [], start: [] };
  for (let r = 0; r < args.rounds; r++) {
    rows.start.push(await timed(['--version']));
    rows.last.push(await timed(['cat', file, '--last', '10']));
    rows.since.push(await timed(['cat', file, '--since', middle, '--limit', '10']));
    rows.full.push(await timed(['cat', file]));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const ratio = (xs) => `${((100 * median(xs.map((x, i) => x / rows.full[i]))) ).toFixed(2)}%`;
  return table([`journal cat of a ${mb.toFixed(0)} MB journal, ${n.toLocaleString('en-US')} records`, 'median ms', 'of a full cat', 'target'], [
    ['journal cat (every record, to /dev/null)', fmtMs(median(rows.full)), '100%', ''],
    ['journal cat --last 10', fmtMs(median(rows.last)), ratio(rows.last), '< 1%'],
    ['journal cat --since T --limit 10 (T in the middle)', fmtMs(median(rows.since)), ratio(rows.since), ''],
    ['journal --version (process start, the floor of every command)', fmtMs(median(rows.start)), ratio(rows.start), ''],
  ]);
}
