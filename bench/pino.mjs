// pino into jsonl-journal/pino against pino's own destinations, in the same run: log lines per
// second, the fsyncs made for them, and what each loses when its process is SIGKILLed. Each
// measurement is a process of its own (bench/fixtures/pino-logger.mjs), so that no destination
// shares a heap, a threadpool or an addon with another; rounds interleave the destinations.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { readJournal } from 'jsonl-journal';
import { fmtRate, fmtRatio, median, scratchDir, settle, table } from './lib.mjs';

const LOGGER = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures/pino-logger.mjs');

const KINDS = [
  { id: 'journal-always', name: "journalDestination, 'always'", journal: true, flushMeans: 'durable (fdatasync)' },
  { id: 'journal-interval', name: "journalDestination, 'interval'", journal: true, flushMeans: 'durable (fdatasync)' },
  { id: 'journal-nosync', name: "journalDestination, 'unsafe-nosync'", journal: true, flushMeans: 'durable (fdatasync)' },
  { id: 'journal-transport', name: "jsonl-journal/pino as a transport, 'always'", journal: true, flushMeans: 'durable (fdatasync)' },
  { id: 'sonic-sync', name: 'pino.destination({ sync: true })', journal: false, flushMeans: 'at once' },
  { id: 'sonic-async', name: 'pino.destination({ sync: false })', journal: false, flushMeans: 'at once' },
  { id: 'pino-file', name: "pino.transport({ target: 'pino/file' })", journal: false, flushMeans: 'once the worker has the lines' },
];
const BASELINE = 'sonic-sync';

/** Runs the logger; resolves with its stdout lines once it exits, or, with `kill`, once kill(child, lines) settles. */
function logger(args, { kill, strace } = {}) {
  const argv = strace ? ['-f', '-qq', '-c', '--seccomp-bpf', '-e', 'trace=fsync,fdatasync', '-o', strace, process.execPath, LOGGER, ...args] : [LOGGER, ...args];
  const c = spawn(strace ? 'strace' : process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  const waiters = [];
  createInterface({ input: c.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise((resolve) => c.on('exit', (code, signal) => resolve({ code, signal })));
  if (kill === undefined) return exited.then(() => lines);
  const first = new Promise((resolve) => waiters.push(resolve));
  return Promise.race([first, exited]).then(() => kill(c)).then(() => exited).then(() => lines);
}

async function rate(dir, kind, ms) {
  const file = path.join(dir, `rate-${kind}.log`);
  const out = await logger([kind, file, 'rate', String(ms)]);
  fs.rmSync(file, { force: true });
  settle();
  const r = JSON.parse(out.at(-1));
  return (r.lines * 1000) / r.ms;
}

/** fsync and fdatasync calls while logging 10,000 lines with a flush after every 100, or null without strace. */
async function syncs(dir, kind) {
  const file = path.join(dir, `syncs-${kind}.log`);
  const summary = path.join(dir, `syncs-${kind}.strace`);
  await logger([kind, file, 'syncs'], { strace: summary });
  if (!fs.existsSync(summary)) return null;
  let calls = 0;
  for (const l of fs.readFileSync(summary, 'utf8').split('\n')) {
    const cols = l.trim().split(/\s+/);
    if (cols.at(-1) === 'fsync' || cols.at(-1) === 'fdatasync') calls += Number(cols[3]);
  }
  fs.rmSync(file, { force: true });
  return calls;
}

/** How many lines a destination's file holds after a kill, checked to be lines 1..k in order (a torn last line is not one). */
async function found(kind, file) {
  const ns = [];
  if (kind.journal) {
    for await (const r of readJournal(file)) ns.push(r.data.n);
  } else {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    for (const l of text.split('\n').slice(0, -1)) ns.push(JSON.parse(l).n);
  }
  ns.forEach((n, i) => {
    if (n !== i + 1) throw new Error(`${kind.id}: line ${i + 1} of the file is line ${n}`);
  });
  return ns.length;
}

/** One SIGKILL at a random moment, 20 to 200 ms after the first flush called back. */
async function lossOnce(dir, kind, k) {
  const file = path.join(dir, `loss-${kind.id}-${k}.log`);
  const report = path.join(dir, `loss-${kind.id}-${k}.report`);
  await logger([kind.id, file, 'loss', report], {
    kill: async (c) => {
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 180));
      c.kill('SIGKILL');
    },
  });
  let logged = 0;
  let flushed = 0;
  for (const l of fs.readFileSync(report, 'utf8').split('\n')) {
    const [what, n] = l.split(' ');
    if (what === 'L') logged = Math.max(logged, Number(n));
    if (what === 'F') flushed = Math.max(flushed, Number(n));
  }
  const count = await found(kind, file);
  fs.rmSync(file, { force: true });
  settle();
  return { logged, flushed, count };
}

/** What a power loss can take, from the syncs measured: nothing is claimed that strace did not show. */
function atRisk(kind, syncCalls) {
  if (syncCalls === null) return 'not measured';
  if (syncCalls === 0) return 'every line: none was fsynced';
  return kind.journal ? 'lines flush(cb) has not acknowledged' : `lines after the last of ${syncCalls} fsyncs`;
}

export async function run(args) {
  const dir = scratchDir('pino');
  const rates = new Map(KINDS.map((k) => [k.id, []]));
  for (let r = 0; r < args.rounds; r++) {
    for (const k of KINDS) rates.get(k.id).push(await rate(dir, k.id, args.time));
  }
  const ratio = (id) => median(rates.get(id).map((x, i) => x / rates.get(BASELINE)[i]));
  const rateRows = KINDS.map((k) => [k.name, fmtRate(median(rates.get(k.id))), fmtRatio(ratio(k.id)), k.journal ? 'durable: after flush(cb)' : k.id === 'sonic-sync' ? 'written: at once' : 'written: once write(2) took them']);

  let strace = true;
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
  } catch {
    strace = false;
  }
  const kills = Math.max(5, 2 * args.rounds);
  const lossRows = [];
  for (const k of KINDS) {
    const s = strace ? await syncs(dir, k.id) : null;
    const runs = [];
    for (let i = 0; i < kills; i++) runs.push(await lossOnce(dir, k, i));
    const sum = (f) => runs.reduce((a, r) => a + f(r), 0);
    const lostLogged = sum((r) => Math.max(0, r.logged - r.count));
    const lostAcked = sum((r) => Math.max(0, r.flushed - r.count));
    lossRows.push([
      k.name,
      k.flushMeans,
      s === null ? 'not measured (no strace)' : String(s),
      `${lostLogged.toLocaleString('en-US')} of ${sum((r) => r.logged).toLocaleString('en-US')}`,
      `${lostAcked.toLocaleString('en-US')} of ${sum((r) => r.flushed).toLocaleString('en-US')}`,
      atRisk(k, s),
    ]);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return [
    table(['pino logging ~150-byte lines, 10,000 a call in bursts of 100', 'lines/s (median)', `vs ${KINDS.find((k) => k.id === BASELINE).name}`, 'a call ends when the lines are'], rateRows),
    '',
    table([
      `SIGKILL at a random moment while logging, ${kills} kills each; flush(cb) after every 100 lines`,
      'flush(cb) calls back',
      'fsync + fdatasync calls for 10,000 lines (strace)',
      'logged, not in the file after the kill',
      'acknowledged by flush(cb), not in the file',
      'not fsynced, so at risk on a power loss',
    ], lossRows),
  ].join('\n');
}
