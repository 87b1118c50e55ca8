// `journal verify` on a 1 GB journal: MB/s of the whole command against a loop that only checks
// each line's CRC-32, one line at a time, and the command's peak RSS.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Journal } from 'jsonl-journal';
import { crc32 } from '../dist/format/crc.js';
import { event, fmtRatio, median, ROOT, scratchDir, table } from './lib.mjs';

const BIN = path.join(ROOT, 'dist/cli/main.js');
const TARGET_BYTES = 1024 * 1024 * 1024;

/** Runs a command, polling its RSS high-water mark (VmHWM) from /proc until it exits. */
function runMeasured(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let hwm = 0;
    const poll = setInterval(() => {
      try {
        const m = fs.readFileSync(`/proc/${c.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
        if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
      } catch {
        // The process has exited between two polls.
      }
    }, 20);
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => {
      clearInterval(poll);
      if (code !== 0) reject(new Error(`exit ${code}: ${out}`));
      else resolve({ ms: performance.now() - t0, hwm, out });
    });
  });
}

/** Checks every line's CRC and nothing else: read in 512 KiB chunks, split at LF, CRC the JSON. */
function crcOnly(file) {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  let carry = 0;
  let pos = 0;
  let bad = 0;
  for (let n; (n = fs.readSync(fd, buf, carry, 512 * 1024, pos)) > 0; pos += n) {
    const end = carry + n;
    let i = 0;
    for (let lf; (lf = buf.indexOf(10, i)) >= 0 && lf < end; i = lf + 1) {
      if (crc32(buf, i + 9, lf) !== parseInt(buf.toString('latin1', i, i + 8), 16)) bad++;
    }
    buf.copy(buf, 0, i, end);
    carry = end - i;
  }
  fs.closeSync(fd);
  return bad;
}

export async function run(args) {
  const dir = scratchDir('cli');
  const file = path.join(dir, 'big.jsonl');
  const j = await Journal.open(file, { durability: 'unsafe-nosync' });
  const batch = Array.from({ length: 5000 }, (_, i) => event(i));
  while (fs.statSync(file).size < TARGET_BYTES) await j.appendMany(batch);
  await j.flush();
  await j.close();
  const mb = fs.statSync(file).size / 1e6;
  const rows = { cli: [], crc: [], hwm: [] };
  for (let r = 0; r < args.rounds; r++) {
    const t = performance.now();
    crcOnly(file);
    rows.crc.push(mb / ((performance.now() - t) / 1000));
    const v = await runMeasured([BIN, 'verify', file, '--json']);
    if (JSON.parse(v.out).status !== 'ok') throw new Error(v.out);
    rows.cli.push(mb / (v.ms / 1000));
    rows.hwm.push(v.hwm / 1e6);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return table([`journal verify of a ${mb.toFixed(0)} MB journal`, 'median', 'target'], [
    ['journal verify (whole command, process start included), MB/s', median(rows.cli).toFixed(0), ''],
    ['CRC-32 of every line, one line at a time, nothing else, MB/s', median(rows.crc).toFixed(0), ''],
    ['verify / CRC-only loop', fmtRatio(median(rows.cli.map((x, i) => x / rows.crc[i]))), '≥ 1.0×'],
    ['peak RSS of journal verify, MB', median(rows.hwm).toFixed(0), 'bounded'],
  ]);
}
