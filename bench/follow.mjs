// Followers: latency from an append resolving in one process to the record arriving in a follower
// in another, catch-up replay speed against the raw replay baseline, and idle CPU.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { follow, Journal } from 'jsonl-journal';
import { event, fmtMs, fmtRate, fmtRatio, median, rounds, scratchDir, table } from './lib.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const LATENCY_RECORDS = 10_000;
const RATE = 1000;
const REPLAY_RECORDS = 1_000_000;

function run(script, args, onLine) {
  const c = spawn(process.execPath, [path.join(HERE, 'fixtures', script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.on('data', (d) => {
    out += d;
    onLine?.(String(d));
  });
  return new Promise((resolve, reject) => c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} exited ${code}`)))));
}

async function latency(dir) {
  const file = path.join(dir, 'latency.jsonl');
  await (await Journal.open(file)).close();
  let ready;
  const isReady = new Promise((r) => (ready = r));
  const followed = run('follower.mjs', [file, 'count', String(LATENCY_RECORDS)], (d) => d.includes('ready') && ready());
  await isReady;
  const written = await run('steady-writer.mjs', [file, String(LATENCY_RECORDS), String(RATE)]);
  const got = new Map((await followed).trim().split('\n').filter((l) => !l.startsWith('ready')).map((l) => l.split(' ').map(Number)));
  const lat = written.trim().split('\n').map((l) => {
    const [seq, acked] = l.split(' ').map(Number);
    return got.get(seq) - acked;
  }).sort((a, b) => a - b);
  fs.rmSync(file);
  const at = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))];
  return { p50: at(0.5), p99: at(0.99), max: lat.at(-1), early: lat.filter((x) => x < 0).length / lat.length };
}

export async function run_(args) {
  const dir = scratchDir('follow');
  const lats = [];
  for (let r = 0; r < args.rounds; r++) lats.push(await latency(dir));

  const file = path.join(dir, 'replay.jsonl');
  const j = await Journal.open(file, { durability: 'unsafe-nosync' });
  for (let i = 0; i < REPLAY_RECORDS; i += 10_000) await j.appendMany(Array.from({ length: 10_000 }, (_, k) => event(i + k)));
  await j.flush();
  await j.close();
  let sink = 0;
  const replay = await rounds([
    {
      name: 'raw: readFile + split + JSON.parse', records: REPLAY_RECORDS, iterations: 3, warmup: 1,
      fn: () => {
        const lines = fs.readFileSync(file, 'utf8').split('\n');
        for (let i = 1; i < lines.length; i++) if (lines[i].length > 0) sink += JSON.parse(lines[i].slice(9)).seq;
      },
    },
    {
      name: 'follow() catching up from seq 1', records: REPLAY_RECORDS, iterations: 3, warmup: 1,
      fn: async () => {
        for await (const r of follow(file)) if ((sink += r.seq) && r.seq === REPLAY_RECORDS) break;
      },
    },
  ], { ...args, time: 1 });
  // Idle: a follower at the end of a journal nobody appends to.
  const quiet = path.join(dir, 'quiet.jsonl');
  const q = await Journal.open(quiet);
  await q.appendMany(Array.from({ length: 100 }, (_, i) => event(i)));
  await q.close();
  const idle = Number((await run('follower.mjs', [quiet, 'idle', '10000'])).match(/cpu ([\d.]+)/)[1]);
  fs.rmSync(dir, { recursive: true, force: true });
  const rawRates = replay.get('raw: readFile + split + JSON.parse').rates;
  const followRates = replay.get('follow() catching up from seq 1').rates;
  const m = (k) => median(lats.map((x) => x[k]));
  return [
    table([`append resolved (writer process) → record arrives (follower process), ${LATENCY_RECORDS.toLocaleString('en-US')} records at ${RATE}/s`, 'median of rounds', 'target'], [
      ['p50 ms', fmtMs(m('p50')), ''],
      ['p99 ms', fmtMs(m('p99')), '< 10 ms'],
      ['max ms', fmtMs(m('max')), ''],
      ['records that arrived before the writer’s append resolved', `${(m('early') * 100).toFixed(0)}%`, ''],
    ]),
    '',
    table(['catch-up replay, 1,000,000 records', 'records/s (median)'], [
      ['raw: readFile + split + JSON.parse', fmtRate(median(rawRates))],
      ['follow() catching up from seq 1', fmtRate(median(followRates))],
      ['follow() / raw', fmtRatio(median(followRates.map((x, i) => x / rawRates[i])))],
    ]),
    '',
    `An idle follower used ${idle.toFixed(0)} ms of CPU in 10 s (fs.watch plus a 200 ms poll of one stat).`,
    sink === -1 ? '' : '',
  ].join('\n').trimEnd();
}
export { run_ as run };
