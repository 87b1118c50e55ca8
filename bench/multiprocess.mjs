// Several processes appending durably to one journal, each with 64 concurrent producers, against
// one process with 64: the aggregate rate, and whether the lock serializes the writers' syncs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { verify } from 'jsonl-journal';
import { fmtRate, fmtRatio, median, scratchDir, settle, table } from './lib.mjs';

const WRITER = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures/mp-writer.mjs');

async function runProcs(dir, procs, producers, ms) {
  const file = path.join(dir, `mp-${procs}x${producers}.jsonl`);
  fs.rmSync(file, { force: true });
  const startAt = Date.now() + 600;
  const stopAt = startAt + ms;
  const counts = await Promise.all(Array.from({ length: procs }, () => new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [WRITER, file, String(producers), String(startAt), String(stopAt)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => (code === 0 ? resolve(Number(out.match(/count (\d+)/)[1])) : reject(new Error(`writer exited ${code}`))));
  })));
  const total = counts.reduce((a, b) => a + b, 0);
  const report = await verify(file);
  if (!report.ok || report.records !== total) throw new Error(`journal after ${procs} processes: ${JSON.stringify(report)}`);
  fs.rmSync(file);
  settle();
  return (total * 1000) / ms;
}

export async function run(args) {
  const dir = scratchDir('multiprocess');
  const configs = [[1, 64], [2, 64], [4, 64], [1, 256]];
  const rates = new Map(configs.map((c) => [c.join('x'), []]));
  const ms = Math.max(1000, args.time * 2);
  for (let r = 0; r < args.rounds; r++) {
    for (const [procs, producers] of configs) rates.get(`${procs}x${producers}`).push(await runProcs(dir, procs, producers, ms));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const ratio = (a) => median(rates.get(a).map((x, i) => x / rates.get('1x64')[i]));
  const rows = configs.map(([procs, producers]) => {
    const key = `${procs}x${producers}`;
    return [`${procs} process${procs > 1 ? 'es' : ''} × ${producers} producers`, fmtRate(median(rates.get(key))), fmtRatio(ratio(key)), key === '4x64' ? '≥ 0.7×' : ''];
  });
  return table(['durable appends to one journal, ~100-byte records', 'records/s (median)', 'vs 1 process × 64', 'target'], rows);
}
