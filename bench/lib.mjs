// Shared pieces of the benchmarks: the record workload, raw baselines, interleaved rounds measured
// with tinybench, the machine description, and writing result tables into docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Bench } from 'tinybench';
import { crc32 } from '../dist/format/crc.js';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** A ~100-byte JSON event, varied a little so nothing compresses into a special case. */
export function event(i) {
  return { type: 'order.created', id: i, user: `u${i % 9973}`, amount: (i % 1000) / 4, items: [i % 7, i % 11], ok: true };
}
export function bigEvent(i) {
  return { ...event(i), note: 'lorem ipsum dolor sit amet '.repeat(34) };
}

/** CPU-bound work on a record, as a projection might do: `rounds` SHA-256 of its JSON, chained. */
export function cpuWork(data, rounds) {
  let h = JSON.stringify(data);
  for (let i = 0; i < rounds; i++) h = createHash('sha256').update(h).digest('hex');
  return h;
}

/** The line a hand-written journal would write for a record: JSON, CRC-32 of it, newline. */
export function rawLine(seq, data) {
  const json = Buffer.from(JSON.stringify({ seq, ts: Date.now(), data }));
  return Buffer.concat([Buffer.from(`${crc32(json).toString(16).padStart(8, '0')} `), json, Buffer.from('\n')]);
}

export const pwrite = (fd, buf, pos) => new Promise((res, rej) => fs.write(fd, buf, 0, buf.length, pos, (e, n) => (e ? rej(e) : res(n))));
export const fdatasync = (fd) => new Promise((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())));

/** A scratch directory on the disk being measured (BENCH_DIR, or the OS temp dir). */
export function scratchDir(name) {
  const base = process.env.BENCH_DIR ?? os.tmpdir();
  return fs.mkdtempSync(path.join(base, `jsonl-journal-bench-${name}-`));
}

export function parseArgs(argv) {
  const args = { rounds: 3, time: 1000, write: false, only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--rounds') args.rounds = Number(argv[++i]);
    else if (a === '--time') args.time = Number(argv[++i]);
    else if (a === '--write') args.write = true;
    else if (!a.startsWith('-')) (args.only ??= []).push(a);
    else throw new Error(`unknown option ${a}`);
  }
  return args;
}

/**
 * Runs every task once per round, in the same order each round, so that drift of a shared machine
 * hits all of them alike. A task is { name, records (per call), fn, setup?, teardown? }. Returns,
 * per task, the records/s of each round and latency percentiles of the last round.
 */
export async function rounds(tasks, { rounds: n, time }) {
  const out = new Map(tasks.map((t) => [t.name, { rates: [], p50: 0, p99: 0 }]));
  for (let r = 0; r < n; r++) {
    for (const t of tasks) {
      await t.setup?.();
      const bench = new Bench({ time, iterations: t.iterations ?? 16, warmupIterations: t.warmup ?? 4, warmupTime: 50, throws: true });
      bench.add(t.name, t.fn);
      await bench.run();
      const res = bench.tasks[0].result;
      const o = out.get(t.name);
      o.rates.push((t.records * 1000) / res.period);
      o.p50 = res.latency.p50;
      o.p99 = res.latency.p99;
      await t.teardown?.();
      settle();
    }
  }
  return out;
}

/** Flushes the previous task's dirty pages so they are not written back during the next task. */
export function settle() {
  try {
    execFileSync('sync');
  } catch {
    // No sync(1): tasks may see each other's writeback.
  }
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const fmtRate = (x) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
export const fmtRatio = (x) => `${x.toFixed(2)}×`;
export const fmtMs = (x) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** A markdown table from a header row and rows. */
export function table(head, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Where the numbers came from: date, Node, CPUs, and the disk under the scratch directory. */
export function machine() {
  const dir = process.env.BENCH_DIR ?? os.tmpdir();
  let disk = 'unknown disk';
  try {
    const [src, fstype] = execFileSync('findmnt', ['-n', '-o', 'SOURCE,FSTYPE', '-T', dir], { encoding: 'utf8' }).trim().split(/\s+/);
    const dev = path.basename(src).replace(/[0-9]+$/, '').replace(/p$/, '');
    let model = '';
    for (const f of [`/sys/block/${dev}/device/model`, `/sys/block/${dev}/device/vendor`]) {
      if (fs.existsSync(f)) model = `${fs.readFileSync(f, 'utf8').trim()} ${model}`.trim();
    }
    const rotational = fs.existsSync(`/sys/block/${dev}/queue/rotational`) && fs.readFileSync(`/sys/block/${dev}/queue/rotational`, 'utf8').trim() === '1';
    disk = `${fstype} on ${src}${model ? ` (${model})` : ''}, ${rotational ? 'rotational' : 'non-rotational'}`;
  } catch {
    // findmnt missing: the disk stays unknown.
  }
  const cpus = os.cpus();
  return `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${disk}`;
}

/** Replaces the text between <!-- bench:NAME --> and <!-- /bench:NAME --> in docs/benchmarks.md. */
export function writeSection(name, markdown) {
  const file = path.join(ROOT, 'docs/benchmarks.md');
  const doc = fs.readFileSync(file, 'utf8');
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const a = doc.indexOf(open);
  const b = doc.indexOf(close);
  if (a < 0 || b < a) throw new Error(`docs/benchmarks.md has no ${open} ... ${close} section`);
  fs.writeFileSync(file, `${doc.slice(0, a + open.length)}\n${markdown}\n${doc.slice(b)}`);
}
