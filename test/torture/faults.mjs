// Fault injection: a small workload (create, concurrent appends and appendMany groups, a compaction
// with appends running, more appends, close) runs once to count its fs calls. Then, for every k,
// it runs again with the k-th call failing the way that call fails on a bad day: a write writes
// half and the next one fails with ENOSPC (or fails with EIO at once), fdatasync/fsync and the
// directory fsync fail with EIO, open with EMFILE, rename/link/unlink/read/truncate with EIO,
// flock with ENOLCK, fstat/stat with EIO.
//
// Each case must give its caller a typed error (JournalError) and nothing else; after a failed
// write or sync no later append of that Journal may succeed until it is reopened (never retry an
// fsync); and once the disk is good again the next open must succeed, leave no temp file, verify
// clean, and hold every acknowledged record, once, under its seq, and nothing that was not written.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compact, Journal, JournalError, readJournal, verify } from '../../dist/index.js';
import { io } from '../../dist/fs/io.js';
import { recordFor } from './records.mjs';

const errno = (code, syscall) => Object.assign(new Error(`${code}: injected, ${syscall}`), { code, syscall });

/** How each io call fails. `short` writes: half the bytes, then ENOSPC on the next write. */
const FAULTS = {
  open: ['EMFILE'], close: ['EIO'], read: ['EIO'], readSync: ['EIO'], write: ['short', 'EIO'], writeSync: ['short', 'EIO'],
  fdatasync: ['EIO'], fsync: ['EIO'], ftruncate: ['EIO'], fstatSync: ['EIO'], statSync: ['EIO'], rename: ['EIO'],
  link: ['EIO'], unlink: ['EIO'], readdir: ['EIO'], fsyncDir: ['EIO'], tryLockSync: ['ENOLCK'], lockWait: ['ENOLCK'], unlockSync: ['ENOLCK'],
};
const SYNC_CALLS = new Set(['readSync', 'writeSync', 'fstatSync', 'statSync', 'tryLockSync', 'unlockSync']);

/**
 * Wraps every io call: counts calls, and fails call number `at` with `fault`. Returns the trace of
 * call names and an undo.
 */
function inject(at, fault) {
  const saved = { ...io };
  const trace = [];
  let failNextWrite = false;
  for (const name of Object.keys(FAULTS)) {
    const orig = saved[name];
    io[name] = (...args) => {
      trace.push(name);
      const isWrite = name === 'write' || name === 'writeSync';
      let err = null;
      if (isWrite && failNextWrite) {
        failNextWrite = false;
        err = errno('ENOSPC', name);
      } else if (trace.length === at) {
        // Concurrency can reorder calls between runs: the k-th call fails the way its kind fails.
        const how = FAULTS[name].includes(fault) ? fault : FAULTS[name][0];
        if (how === 'short') {
          const [fd, buf, off, len, pos] = args;
          if (len > 1) {
            failNextWrite = true;
            return orig(fd, buf, off, len >> 1, pos);
          }
          err = errno('ENOSPC', name);
        } else {
          err = errno(how, name);
        }
      }
      if (err === null) return orig(...args);
      // close(2) releases the descriptor even when it reports an error.
      if (name === 'close') return orig(...args).then(() => Promise.reject(err));
      if (SYNC_CALLS.has(name)) throw err;
      return Promise.reject(err);
    };
  }
  return { trace, restore: () => Object.assign(io, saved) };
}

/**
 * The workload. Every append's outcome is noted; an append that fails must fail with a
 * JournalError, and a Journal that failed a write or sync must not acknowledge anything after.
 */
async function workload(file, note, problem) {
  let n = 0;
  const tag = () => `f.0.${n++}`;
  let j;
  const attempt = async (what) => {
    try {
      return await what();
    } catch (err) {
      if (!(err instanceof JournalError)) problem(`untyped error: ${err?.stack?.split('\n').slice(0, 6).join(' / ') ?? err}`);
      return err;
    }
  };
  j = await attempt(() => Journal.open(file));
  if (j instanceof Error) return;
  let broken = null;
  const append = (values) => {
    const tags = values.map(() => tag());
    const p = values.length === 1 ? j.append(recordFor(tags[0])).then((r) => [r]) : j.appendMany(tags.map(recordFor));
    return attempt(async () => {
      const rs = await p;
      if (broken !== null) problem(`an append succeeded after ${broken} on the same Journal`);
      rs.forEach((r, i) => note(r.seq, tags[i]));
    }).then((err) => {
      if (err instanceof JournalError && ['WRITE_FAILED', 'SYNC_FAILED', 'FAILED'].includes(err.code)) broken ??= err.code;
    });
  };
  await Promise.all([append([1]), append([1]), append([1, 2, 3]), append([1])]);
  await Promise.all([attempt(() => compact(file)), append([1]), append([1, 2])]);
  await Promise.all([append([1]), append([1]), append([1, 2])]);
  await attempt(() => j.close());
}

/** Runs the workload clean, then once per (call, fault) with that call failing. */
export async function run({ seed = 0, limit = Infinity } = {}) {
  const stats = { suite: 'fault injection', states: 0, acked: 0, lost: 0, corrupt: 0, failures: [] };
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'jj-faults-'));
  try {
    const clean = inject(-1, null);
    try {
      await workload(path.join(base, 'clean.jsonl'), () => {}, (p) => stats.failures.push(`without faults: ${p}`));
    } finally {
      clean.restore();
    }
    const cases = [];
    clean.trace.forEach((name, i) => FAULTS[name].forEach((fault) => cases.push({ at: i + 1, name, fault })));
    // With a limit, an even spread of the cases, starting from an offset the seed picks.
    const step = Math.max(1, cases.length / Math.min(limit, cases.length));
    for (let c = seed % step; c < cases.length; c += step) {
      const { at, name, fault } = cases[Math.floor(c)];
      stats.states++;
      const dir = path.join(base, `case-${Math.floor(c)}`);
      fs.mkdirSync(dir);
      const problems = await runCase(path.join(dir, 'j.jsonl'), at, fault, stats);
      for (const p of problems) stats.failures.push(`call ${at} (${name}) failing with ${fault}: ${p}`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
  return stats;
}

async function runCase(file, at, fault, stats) {
  const problems = [];
  const acked = new Map();
  const f = inject(at, fault);
  try {
    await workload(file, (seq, tag) => acked.set(tag, seq), (p) => problems.push(p));
  } finally {
    f.restore();
  }
  stats.acked += acked.size;
  // The disk is good again. Leftover temps look as they would after a restart: old.
  const dir = path.dirname(file);
  const past = new Date(Date.now() - 60_000);
  for (const n of fs.readdirSync(dir)) fs.utimesSync(path.join(dir, n), past, past);
  try {
    await (await Journal.open(file)).close();
  } catch (err) {
    problems.push(`the next open failed: ${err.code ?? ''} ${err.message}`);
    return problems;
  }
  const left = fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));
  if (left.length > 0) problems.push(`temp files left after the next open: ${left.join(', ')}`);
  const report = await verify(file);
  if (!report.ok) problems.push(`not clean after the next open: ${JSON.stringify({ tornTail: report.tornTail, corrupt: report.corrupt.slice(0, 2) })}`);
  const found = new Map();
  for await (const r of readJournal(file)) {
    const tag = r.data?.tag;
    if (typeof tag !== 'string' || JSON.stringify(r.data) !== JSON.stringify(recordFor(tag)) || found.has(tag)) {
      stats.corrupt++;
      problems.push(`seq ${r.seq} holds a record that was not written, or twice: ${JSON.stringify(r.data).slice(0, 80)}`);
      continue;
    }
    found.set(tag, r.seq);
  }
  for (const [tag, seq] of acked) {
    if (found.get(tag) !== seq) {
      stats.lost++;
      problems.push(`acknowledged ${tag} (seq ${seq}) is ${found.has(tag) ? `at seq ${found.get(tag)}` : 'missing'}`);
    }
  }
  return problems;
}
