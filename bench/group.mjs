// Consumer groups: CPU-bound work on every record (SHA-256 of the record's JSON, chained), by one
// Consumer process and by groups of 1, 2 and 4 member processes, from the same journal. Each run
// opens a new consumer name; the processes start working at one moment (after their start-up) and
// the time runs until the position covers every record.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Journal } from 'jsonl-journal';
import { event, fmtRate, fmtRatio, median, scratchDir, settle, table } from './lib.mjs';

const WORKER = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures/group-worker.mjs');
const RECORDS = 20_000;
const ROUNDS = 100;

let runs = 0;
async function runProcs(file, mode, procs) {
  const name = `${mode}-${procs}-${runs++}`;
  const startAt = Date.now() + 1500;
  const ends = await Promise.all(Array.from({ length: procs }, () => new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [WORKER, file, name, mode, String(RECORDS), String(ROUNDS), String(startAt)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => (code === 0 ? resolve(out.match(/done (\d+) (\d+) ([\d.]+)/).slice(1).map(Number)) : reject(new Error(`worker exited ${code}`))));
  })));
  const processed = ends.reduce((a, [n]) => a + n, 0);
  if (processed < RECORDS) throw new Error(`${name}: ${processed} records processed of ${RECORDS}`);
  settle();
  const total = (i) => ends.reduce((a, e) => a + e[i], 0);
  return {
    rate: (RECORDS * 1000) / (Math.max(...ends.map(([, at]) => at)) - startAt),
    // CPU of all the processes per record, in µs.
    cpu: (total(2) * 1000) / RECORDS,
  };
}

export async function run(args) {
  const dir = scratchDir('group');
  const file = path.join(dir, 'events.jsonl');
  const j = await Journal.open(file);
  for (let i = 0; i < RECORDS; i += 10_000) await j.appendMany(Array.from({ length: 10_000 }, (_, k) => event(i + k)));
  await j.close();

  const configs = [['consumer', 1], ['group', 1], ['group', 2], ['group', 4]];
  const key = ([mode, procs]) => `${mode}x${procs}`;
  const runs = new Map(configs.map((c) => [key(c), []]));
  for (let r = 0; r < args.rounds; r++) {
    for (const c of configs) runs.get(key(c)).push(await runProcs(file, ...c));
  }
  const rates = new Map([...runs].map(([k, rs]) => [k, rs.map((x) => x.rate)]));
  const med = (k, f) => median(runs.get(k).map((x) => x[f]));
  fs.rmSync(dir, { recursive: true, force: true });
  const ratio = (k) => median(rates.get(k).map((x, i) => x / rates.get('groupx1')[i]));
  const label = ([mode, procs]) => (mode === 'consumer' ? '1 Consumer (no group), committing every record' : `group of ${procs} member process${procs > 1 ? 'es' : ''}`);
  const rows = configs.map((c) => [
    label(c), fmtRate(median(rates.get(key(c)))), fmtRatio(ratio(key(c))), med(key(c), 'cpu').toFixed(0), key(c) === 'groupx4' ? '> 1×' : '',
  ]);
  return table([`${RECORDS.toLocaleString('en-US')} records, CPU-bound work on each`, 'records/s (median)', 'vs group of 1', 'CPU µs per record, all processes', 'target'], rows);
}
