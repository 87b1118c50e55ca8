// Process kills, in the manner of RocksDB's kill-point stress tests: writer processes (several at
// once, append and appendMany, durability 'always', one of them 'unsafe-nosync'), a compactor and
// a named consumer run against one journal while the harness SIGKILLs them at random moments and restarts them. Half the
// restarts arm a named kill point instead (JSONL_JOURNAL_KILL_POINT): the process kills itself
// exactly there, e.g. with half a batch written or between a compaction's rename and its
// directory fsync. Writers report every acknowledged record as it is acknowledged.
//
// Checked along the way: verify never finds damage before durable data. At the end, after the
// next open: the journal verifies clean; every record read back is intact (its data is what its
// tag determines); seqs rise; every acknowledged record is there exactly once under the seq it was
// acknowledged with (unless it was marked for the compactor to drop); each producer's records are
// in its order; the consumer, run to the end, has processed every record at least once; and no
// compaction temp file is left.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Journal, readJournal, verify } from '../../dist/index.js';
import { savedCutProblem } from './powerloss.mjs';
import { prng } from './prng.mjs';
import { recordFor } from './records.mjs';

const PROCS = path.join(path.dirname(new URL(import.meta.url).pathname), 'procs');

const KILL_POINTS = {
  writer: ['before-write', 'mid-write', 'after-write', 'after-sync', 'before-ack'],
  compactor: ['compact-temp-created', 'compact-copying', 'compact-temp-written', 'compact-temp-synced', 'compact-renamed', 'compact-dir-synced'],
  consumer: [],
};

/** How long an armed process is spared the harness's random kills. */
const ARMED_GRACE_MS = 2000;

/** A child process of the suite, collecting the records it reports as acknowledged. */
class Proc {
  constructor(kind, args, env, acks, cuts = []) {
    this.kind = kind;
    this.killedByUs = false;
    this.armed = Boolean(env.JSONL_JOURNAL_KILL_POINT);
    /** Never killed by the harness: it dies at its own kill point. */
    this.spared = false;
    this.born = Date.now();
    this.proc = spawn(process.execPath, [path.join(PROCS, `${kind}.mjs`), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, JSONL_JOURNAL_KILL_POINT: '', ...env },
    });
    this.stderr = '';
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    const ready = new Promise((resolve) => {
      createInterface({ input: this.proc.stdout }).on('line', (l) => {
        if (l === 'ready') resolve();
        else if (l.startsWith('cut ')) cuts.push(`${l} (${kind})`);
        else if (l.startsWith('ack ')) {
          const [, seq, tag] = l.split(' ');
          acks.set(tag, Number(seq));
        }
      });
    });
    this.ready = Promise.race([ready, this.exited]);
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    this.done = false;
    this.exited.then(() => (this.done = true));
  }

  /** The error the process died of, from its stderr. */
  why() {
    const lines = this.stderr.split('\n');
    // Node prints the throwing source line first; the error's own line starts with its name.
    return (lines.find((l) => /^[A-Z]\w*Error\b/.test(l)) ?? lines.find((l) => /Error\b/.test(l)))?.trim() ?? this.stderr.trim().slice(0, 300);
  }

  async kill() {
    if (!this.done) {
      this.killedByUs = true;
      this.proc.kill('SIGKILL');
    }
    return this.exited;
  }
}

/**
 * Deliberately broken writers the suite must catch (see procs/writer.mjs). A process kill leaves
 * the page cache alone, so an fdatasync or a directory fsync left out cannot show here: those are
 * the power-loss suite's to catch.
 */
export const PLANTED = ['appendAtEof', 'bufferedWrite'];

/**
 * Runs the suite until `kills` processes were killed or `seconds` passed. With `planted`, the
 * writers are broken that way, and the suite must find violations: it stops at the first.
 */
export async function run({ seed, kills = 100, seconds = Infinity, writers = 3, planted = null }) {
  const rnd = prng(seed);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'jj-kill-'));
  const file = path.join(base, 'j.jsonl');
  const out = path.join(base, 'consumed.txt');
  const acks = new Map();
  /** What the writers and the compactor said of each torn tail they cut: saved first byte for byte, or not. */
  const cuts = [];
  const stats = { suite: 'process kill', states: 0, acked: 0, lost: 0, corrupt: 0, cuts: 0, failures: [] };
  const fail = (msg) => stats.failures.push(`seed ${seed}${planted ? ` (planted: ${planted})` : ''}: ${msg}`);
  await (await Journal.open(file)).close();

  let incarnation = 0;
  const start = (kind, slot) => {
    const points = KILL_POINTS[kind];
    // The first writer always dies with half of its first batch written, and the harness never
    // kills it first, however slow the machine: every run has a torn tail to cut.
    const first = incarnation === 0;
    const point = first ? 'mid-write' : points.length > 0 && rnd.chance(0.5) ? rnd.pick(points) : null;
    const env = point === null ? {} : { JSONL_JOURNAL_KILL_POINT: `${point}:${first ? 1 : 1 + rnd.int(kind === 'writer' ? 40 : 3)}` };
    // The last writer appends without fsyncs, keeping the writers' lock from batch to batch.
    if (kind === 'writer' && slot === writers - 1 && writers > 1) env.TORTURE_DURABILITY = 'unsafe-nosync';
    const name = `${kind[0]}${slot}i${incarnation++}`;
    const args = kind === 'writer' ? [file, name, String(2 + rnd.int(6)), ...(planted ? [planted] : [])] : kind === 'compactor' ? [file] : [file, out];
    const proc = new Proc(kind, args, env, acks, cuts);
    proc.spared = first;
    return proc;
  };
  const procs = [
    ...Array.from({ length: writers }, (_, i) => ({ kind: 'writer', slot: i })),
    { kind: 'compactor', slot: 0 },
    { kind: 'consumer', slot: 0 },
  ].map((p) => ({ ...p, proc: start(p.kind, p.slot) }));

  const t0 = Date.now();
  const deadline = t0 + seconds * 1000;
  try {
    while (stats.states < kills && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5 + rnd.int(60)));
      // Processes that killed themselves at their kill point count as kills too.
      for (const p of procs) {
        if (!p.proc.done) continue;
        const { signal, code } = await p.proc.exited;
        if (signal === 'SIGKILL') stats.states++;
        else fail(`${p.kind} exited on its own (code ${code}): ${p.proc.why()}`);
        p.proc = start(p.kind, p.slot);
      }
      const victim = rnd.chance(0.7) ? procs[rnd.int(writers)] : procs[writers + rnd.int(2)];
      // An armed process is given time to reach its kill point: a harness kill first would leave
      // the named moments (half a batch written, say) to chance, and on a slow machine unvisited.
      if (victim.proc.spared || (victim.proc.armed && Date.now() - victim.proc.born < ARMED_GRACE_MS)) continue;
      await victim.proc.ready;
      const { signal, code } = await victim.proc.kill();
      if (signal === 'SIGKILL') stats.states++;
      else fail(`${victim.kind} exited on its own (code ${code}): ${victim.proc.why()}`);
      victim.proc = start(victim.kind, victim.slot);
      if (stats.states % 25 === 0) {
        const r = await verify(file).catch((e) => ({ corrupt: [{ reason: `${e.code} ${e.message}` }] }));
        if (r.corrupt.length > 0) fail(`verify during the run found damage: ${JSON.stringify(r.corrupt[0])}`);
      }
      if (stats.failures.length > 20) break;
      // A planted bug needs only to be caught once; the final checks still run.
      if (planted && stats.failures.length > 0) break;
    }
  } finally {
    await Promise.all(procs.map((p) => p.proc.kill()));
  }

  // A crashed compactor's temp is a leftover once nobody holds its lock and it is two seconds old.
  await new Promise((r) => setTimeout(r, 2100));
  try {
    const before = fs.readFileSync(file);
    const j = await Journal.open(file);
    const cutProblem = savedCutProblem(file, before, j.recovered);
    await j.close();
    if (cutProblem !== null) fail(`the last open: ${cutProblem}`);
    stats.cuts = cuts.length + (j.recovered === null ? 0 : 1);
    stats.compactorCuts = cuts.filter((l) => l.endsWith('(compactor)')).length;
    for (const c of cuts.filter((l) => l.startsWith('cut BAD')).slice(0, 3)) fail(`a torn tail was cut without being saved first: ${c}`);
    const left = fs.readdirSync(base).filter((n) => n.endsWith('.tmp'));
    if (left.length > 0) fail(`temp files left after the next open: ${left.join(', ')}`);
    const report = await verify(file);
    if (!report.ok) fail(`not clean after the next open: ${JSON.stringify({ tornTail: report.tornTail, corrupt: report.corrupt.slice(0, 2) })}`);
    await checkRecords(file, acks, stats, fail);
    await checkConsumer(file, out, stats, fail);
  } catch (err) {
    fail(`recovery failed: ${err.code ?? ''} ${err.stack}`);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
  stats.seconds = (Date.now() - t0) / 1000;
  return stats;
}

async function checkRecords(file, acks, stats, fail) {
  const bySeq = new Map();
  const byTag = new Map();
  const lastK = new Map();
  let prev = 0;
  for await (const r of readJournal(file, { corrupt: 'skip', onCorrupt: (d) => fail(`damage: ${JSON.stringify(d)}`) })) {
    const tag = r.data?.tag;
    if (typeof tag !== 'string' || JSON.stringify(r.data) !== JSON.stringify(recordFor(tag))) {
      stats.corrupt++;
      if (stats.corrupt <= 3) fail(`seq ${r.seq} is not a record any writer wrote: ${JSON.stringify(r.data).slice(0, 120)}`);
      continue;
    }
    if (r.seq <= prev) fail(`seq ${r.seq} after seq ${prev}`);
    prev = r.seq;
    if (byTag.has(tag)) fail(`${tag} appears twice, at seqs ${byTag.get(tag)} and ${r.seq}`);
    byTag.set(tag, r.seq);
    bySeq.set(r.seq, tag);
    const [w, p, k] = tag.split('.');
    const producer = `${w}.${p}`;
    if (Number(k) <= (lastK.get(producer) ?? -1)) fail(`${tag} comes after ${producer}.${lastK.get(producer)}`);
    lastK.set(producer, Number(k));
  }
  for (const [tag, seq] of acks) {
    stats.acked++;
    const found = byTag.get(tag);
    if (found === seq) continue;
    if (found === undefined && recordFor(tag).drop) continue;
    stats.lost++;
    if (stats.lost <= 3) fail(`acknowledged ${tag} (seq ${seq}) ${found === undefined ? 'is missing' : `is at seq ${found}`}`);
  }
}

/** Runs the consumer to the end of the journal; every record must have been processed at least once. */
async function checkConsumer(file, out, stats, fail) {
  let last = 0;
  for await (const r of readJournal(file)) last = r.seq;
  if (last === 0) return;
  const c = new Proc('consumer', [file, out, String(last)], {}, new Map());
  // However long the backlog, it must keep making progress: stuck for 30 s is a failure.
  let seen = -1;
  let still = 0;
  const watch = setInterval(() => {
    const size = fs.statSync(out, { throwIfNoEntry: false })?.size ?? 0;
    still = size === seen ? still + 1 : 0;
    seen = size;
    if (still >= 30) c.kill();
  }, 1000);
  const { code } = await c.exited;
  clearInterval(watch);
  if (code !== 0) return fail(`the consumer could not finish (code ${code}${still >= 30 ? ', no progress for 30 s' : ''}): ${c.why()}`);
  const processed = new Set(fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map(Number));
  let skipped = 0;
  for await (const r of readJournal(file)) if (!processed.has(r.seq)) skipped++;
  if (skipped > 0) fail(`the consumer never processed ${skipped} records of the journal`);
}
