// Consumer commits: the positions log with shared fdatasyncs against the commit of earlier
// versions, a write-replace of one position file per commit (temp file, write, fsync, rename,
// fsync the directory), reimplemented as the baseline (write-replace.mjs). Both read the same
// records with follow() and commit after every record: awaiting each commit, or not (awaiting the
// last of each call), with 1 consumer and with 8 at once in one process; then 8 consumer
// processes at once.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Consumer, follow, Journal } from 'jsonl-journal';
import { io } from '../dist/fs/io.js';
import { event, fmtRate, fmtRatio, median, rounds, scratchDir, settle, table } from './lib.mjs';
import { WriteReplaceCommit } from './write-replace.mjs';

const COMMITTER = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures/committer.mjs');
/** How long the consumer processes commit, once all of them are ready. */
const PROCESS_MS = 2000;

const RECORDS = 200_000;

/** Counts the fdatasync and fsync calls the journal makes (the baseline counts its own). */
const syncs = { n: 0, before: 0, commits: 0, per: new Map() };
for (const name of ['fdatasync', 'fsync']) {
  const orig = io[name];
  io[name] = (...a) => (syncs.n++, orig(...a));
}

export async function run(args) {
  const dir = scratchDir('commit');
  const file = path.join(dir, 'events.jsonl');
  const j = await Journal.open(file);
  for (let i = 0; i < RECORDS; i += 10_000) await j.appendMany(Array.from({ length: 10_000 }, (_, k) => event(i + k)));
  await j.close();

  let round = 0;
  /** A reader of the journal per consumer, kept across calls and started again when it runs out. */
  const readers = (n, make) => Array.from({ length: n }, (_, k) => make(k));
  const journalReaders = (n) => readers(n, (k) => ({ name: `c${k}-${round}`, c: null, it: null }));
  const openConsumers = async (rs) => {
    round++;
    for (const r of rs) {
      r.name = `${r.name.split('-')[0]}-${round}`;
      r.c = await Consumer.open(file, r.name);
      r.it = r.c.records();
    }
  };
  const closeConsumers = async (rs) => {
    for (const r of rs) await r.c.close();
  };
  const openBaseline = (rs) => {
    round++;
    for (const r of rs) {
      r.c = new WriteReplaceCommit(path.join(dir, `baseline-${round}.consumers`), r.name.split('-')[0], (n) => (syncs.n += n));
      r.it = follow(file, { fromSeq: 1 });
    }
  };
  const closeBaseline = async (rs) => {
    for (const r of rs) await r.it.return();
  };
  const restartConsumer = async (r) => {
    await r.c.seek('earliest');
  };
  const restartBaseline = async (r) => {
    await r.it.return();
    r.it = follow(file, { fromSeq: 1 });
  };

  /** k records per reader per call, committing each: awaiting each commit, or only the last; from the start again after the last record. */
  const loop = (rs, k, awaitEach, restart) => () => Promise.all(rs.map(async (r) => {
    let last;
    for (let i = 0; i < k; i++) {
      const { seq } = (await r.it.next()).value;
      last = r.c.commit(seq);
      if (awaitEach || seq === RECORDS) await last;
      if (seq === RECORDS) await restart(r);
    }
    await last;
  }));

  const one = journalReaders(1);
  const eight = journalReaders(8);
  const task = (name, rs, perCall, awaitEach, baseline) => ({
    name,
    records: rs.length * perCall,
    setup: async () => {
      if (baseline) openBaseline(rs);
      else await openConsumers(rs);
      syncs.before = syncs.n;
      syncs.commits = 0;
    },
    teardown: async () => {
      syncs.per.set(name, [...(syncs.per.get(name) ?? []), (syncs.n - syncs.before) / syncs.commits]);
      if (baseline) await closeBaseline(rs);
      else await closeConsumers(rs);
    },
    fn: async () => {
      await loop(rs, perCall, awaitEach, baseline ? restartBaseline : restartConsumer)();
      syncs.commits += rs.length * perCall;
    },
  });
  const tasks = [
    task('before: write-replace per commit, 1 consumer awaiting each', one, 20, true, true),
    task('positions log, 1 consumer awaiting each', one, 100, true, false),
    task('before: write-replace per commit, 1 consumer not awaiting each', one, 20, false, true),
    task('positions log, 1 consumer not awaiting each', one, 2000, false, false),
    task('before: write-replace per commit, 8 consumers awaiting each', eight, 5, true, true),
    task('positions log, 8 consumers awaiting each', eight, 50, true, false),
    task('before: write-replace per commit, 8 consumers not awaiting each', eight, 5, false, true),
    task('positions log, 8 consumers not awaiting each', eight, 500, false, false),
  ];
  const res = await rounds(tasks, { ...args, time: Math.min(args.time, 1000) });

  // 8 consumer processes at once: they share no writer, so each syncs its own lines.
  const procTasks = [];
  for (const awaiting of ['each', 'batch']) {
    for (const mode of ['baseline', 'log']) {
      const how = awaiting === 'each' ? 'awaiting each' : 'not awaiting each';
      procTasks.push({ mode, awaiting, name: mode === 'log' ? `positions log, 8 consumer processes ${how}` : `before: write-replace per commit, 8 consumer processes ${how}` });
    }
  }
  const procRates = new Map(procTasks.map((t) => [t.name, []]));
  for (let r = 0; r < args.rounds; r++) {
    for (const t of procTasks) {
      const { rate, perCommit } = await commitInProcesses(file, dir, t.mode, t.awaiting, `p${round++}`);
      procRates.get(t.name).push(rate);
      syncs.per.set(t.name, [...(syncs.per.get(t.name) ?? []), perCommit]);
      settle();
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });

  const rate = (name) => res.get(name)?.rates ?? procRates.get(name);
  const rows = [];
  const ratios = [];
  const all = [...tasks, ...procTasks];
  for (let i = 0; i < all.length; i += 2) {
    const [base, mine] = [all[i], all[i + 1]];
    for (const t of [base, mine]) rows.push([t.name, fmtRate(median(rate(t.name))), median(syncs.per.get(t.name)).toFixed(3)]);
    const r = median(rate(mine.name).map((x, k) => x / rate(base.name)[k]));
    const what = mine.name.replace('positions log, ', '');
    ratios.push([what, fmtRatio(r), what === '1 consumer not awaiting each' ? '≥ 5×' : '']);
  }
  return [
    table(['consumer commits after every record, ~100-byte records', 'commits/s (median)', 'fsyncs per commit'], rows),
    '',
    table(['positions log / write-replace per commit (median of per-round ratios)', 'measured', 'target'], ratios),
  ].join('\n');
}

/**
 * 8 processes, each a consumer committing after every record (committer.mjs), started together once
 * all are ready: their commits per second in all, and the fsyncs per commit.
 */
async function commitInProcesses(file, dir, mode, awaiting, tag) {
  const procs = Array.from({ length: 8 }, (_, k) => {
    const p = spawn(process.execPath, [COMMITTER, file, `${tag}-${k}`, mode, String(PROCESS_MS), awaiting, String(RECORDS), path.join(dir, `${tag}.consumers`)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const ready = new Promise((resolve) => p.stdout.on('data', (d) => ((out += d), out.includes('ready\n') && resolve())));
    const done = new Promise((resolve, reject) => p.on('exit', (code) => (code === 0 ? resolve(out.split('\n')[1].split(' ').map(Number)) : reject(new Error(`committer exited ${code}`)))));
    return { p, ready, done };
  });
  await Promise.all(procs.map((x) => x.ready));
  const startAt = Date.now() + 50;
  for (const { p } of procs) p.stdin.end(`${startAt}\n`);
  const ends = await Promise.all(procs.map((x) => x.done));
  const commits = ends.reduce((a, [n]) => a + n, 0);
  return {
    rate: (commits * 1000) / Math.max(...ends.map(([, , ran]) => ran)),
    perCommit: ends.reduce((a, [, s]) => a + s, 0) / commits,
  };
}
