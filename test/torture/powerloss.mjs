// Simulated power loss, in the manner of SQLite's crash tests and ALICE: a workload runs while
// every file-system call the journal makes is recorded through its io seam. Crash states are then
// built from the record: what a power loss at any point of it could leave on disk.
//
// The model (conservative POSIX, with powersafe overwrite as SQLite assumes by default):
//   - a file's data written before an fsync/fdatasync of it that started later and returned persists;
//   - of its writes after that, any prefix persists, and within that unsynced region each 512-byte
//     sector may be kept, dropped (zeros) or garbled; durable bytes sharing a sector with it stay;
//   - creations, links, renames and unlinks persist once a later fsync of their directory returned;
//     of the ones after the last such fsync, any prefix persists (a rename may or may not have happened).
// Each state is written to a fresh directory. The journal must then open and read without manual
// repair, hold exactly a prefix of the records written that contains every record acknowledged
// before the crash, leave no temp file behind, take the next append, and verify clean.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compact, Journal, readJournal, verify } from '../../dist/index.js';
import { io } from '../../dist/fs/io.js';
import { prng } from './prng.mjs';

const SECTOR = 512;

/**
 * Deliberately broken writers, for proving that the checker catches what it claims to:
 *   noSync: fdatasync and fsync return at once without syncing (an ack before the data is durable);
 *   noDirSync: directory fsyncs are skipped (renames and links may not survive);
 *   appendAtEof: writes land at the end of the file and truncation is skipped (no tail repair).
 */
export const PLANTED = ['noSync', 'noDirSync', 'appendAtEof'];

/** Replaces io calls with a broken writer's. Returns an undo. */
function plant(broken) {
  const saved = { ...io };
  if (broken === 'noSync') {
    io.fdatasync = async () => {};
    io.fsync = async () => {};
  } else if (broken === 'noDirSync') {
    io.fsyncDir = async () => {};
  } else if (broken === 'appendAtEof') {
    io.writeSync = (fd, buf, off, len) => saved.writeSync(fd, buf, off, len, fs.fstatSync(fd).size);
    io.write = (fd, buf, off, len) => saved.write(fd, buf, off, len, fs.fstatSync(fd).size);
    io.ftruncate = async () => {};
  }
  return () => Object.assign(io, saved);
}

/**
 * Wraps the io seam to log every call that changes what is on disk, and each sync when it returns.
 * `failDirSyncAfterRename()` arms a one-shot failure of the first directory fsync after the next
 * rename: a compactor that dies between its rename and its directory fsync.
 */
function record(log) {
  const saved = { ...io };
  const inoOf = (fd) => fs.fstatSync(fd).ino;
  let dirSyncFailArmed = false;
  let failDirSync = false;
  const dataOp = (fd, buf, off, pos) => (n) => {
    if (n > 0) log.push({ op: 'write', ino: inoOf(fd), pos, bytes: Buffer.from(buf.subarray(off, off + n)) });
    return n;
  };
  io.open = async (file, flags, mode) => {
    const existed = fs.existsSync(file);
    const fd = await saved.open(file, flags, mode);
    if (!existed) log.push({ op: 'create', path: path.resolve(file), ino: inoOf(fd) });
    return fd;
  };
  io.writeSync = (fd, buf, off, len, pos) => dataOp(fd, buf, off, pos)(saved.writeSync(fd, buf, off, len, pos));
  io.write = async (fd, buf, off, len, pos) => dataOp(fd, buf, off, pos)(await saved.write(fd, buf, off, len, pos));
  io.ftruncate = async (fd, len) => {
    await saved.ftruncate(fd, len);
    log.push({ op: 'truncate', ino: inoOf(fd), len });
  };
  const sync = (name) => async (fd) => {
    const ino = inoOf(fd);
    const start = log.length;
    await saved[name](fd);
    log.push({ op: 'synced', ino, upTo: start });
  };
  io.fdatasync = sync('fdatasync');
  io.fsync = sync('fsync');
  io.rename = async (from, to) => {
    await saved.rename(from, to);
    log.push({ op: 'rename', from: path.resolve(from), to: path.resolve(to) });
    if (dirSyncFailArmed) [dirSyncFailArmed, failDirSync] = [false, true];
  };
  io.link = async (from, to) => {
    await saved.link(from, to);
    log.push({ op: 'link', from: path.resolve(from), to: path.resolve(to) });
  };
  io.unlink = async (file) => {
    await saved.unlink(file);
    log.push({ op: 'unlink', path: path.resolve(file) });
  };
  io.fsyncDir = async (dir) => {
    if (failDirSync) {
      failDirSync = false;
      throw Object.assign(new Error('EIO: injected, fsync of a directory'), { code: 'EIO', syscall: 'fsync' });
    }
    const start = log.length;
    await saved.fsyncDir(dir);
    log.push({ op: 'dirsynced', dir: path.resolve(dir), upTo: start });
  };
  return {
    restore: () => Object.assign(io, saved),
    failDirSyncAfterRename: () => (dirSyncFailArmed = true),
  };
}

/** What is on disk after a power loss just after log entry k - 1, with random choices from `rnd`. */
export function crashState(log, k, rnd) {
  const durableUpTo = new Map();
  const dirDurableUpTo = new Map();
  for (let i = 0; i < k; i++) {
    const e = log[i];
    if (e.op === 'synced') durableUpTo.set(e.ino, Math.max(durableUpTo.get(e.ino) ?? 0, e.upTo));
    if (e.op === 'dirsynced') dirDurableUpTo.set(e.dir, Math.max(dirDurableUpTo.get(e.dir) ?? 0, e.upTo));
  }
  // File contents, per inode.
  const files = new Map();
  const pending = new Map();
  for (let i = 0; i < k; i++) {
    const e = log[i];
    if (e.op !== 'write' && e.op !== 'truncate') continue;
    if (i < (durableUpTo.get(e.ino) ?? 0)) apply(files, e);
    else pending.set(e.ino, [...(pending.get(e.ino) ?? []), e]);
  }
  for (const [ino, ops] of pending) {
    const kept = ops.slice(0, rnd.int(ops.length + 1));
    for (const e of kept) apply(files, e);
    const content = files.get(ino) ?? Buffer.alloc(0);
    // Each sector of the unsynced writes is kept, dropped (zeros) or garbled. Only the bytes those
    // writes covered: bytes of a sector that were durable before stay (powersafe overwrite).
    for (const e of kept) {
      if (e.op !== 'write') continue;
      const end = e.pos + e.bytes.length;
      for (let a = e.pos - (e.pos % SECTOR); a < end; a += SECTOR) {
        const from = Math.max(a, e.pos);
        const to = Math.min(a + SECTOR, end, content.length);
        const fate = rnd.int(3);
        if (fate === 1) content.fill(0, from, to);
        else if (fate === 2) for (let x = from; x < to; x++) content[x] = rnd.int(256);
      }
    }
  }
  // Names: the directory operations a later fsync of their directory made durable, then any prefix of the rest.
  const names = new Map();
  const later = [];
  for (let i = 0; i < k; i++) {
    const e = log[i];
    if (e.op !== 'create' && e.op !== 'link' && e.op !== 'rename' && e.op !== 'unlink') continue;
    const dir = path.dirname(e.to ?? e.path);
    if (i < (dirDurableUpTo.get(dir) ?? 0)) applyName(names, e);
    else later.push(e);
  }
  for (const e of later.slice(0, rnd.int(later.length + 1))) applyName(names, e);
  return { files, names };
}

function apply(files, e) {
  const cur = files.get(e.ino) ?? Buffer.alloc(0);
  if (e.op === 'truncate') {
    files.set(e.ino, cur.length >= e.len ? Buffer.from(cur.subarray(0, e.len)) : Buffer.concat([cur, Buffer.alloc(e.len - cur.length)]));
    return;
  }
  const end = e.pos + e.bytes.length;
  const next = cur.length >= end ? cur : Buffer.concat([cur, Buffer.alloc(end - cur.length)]);
  e.bytes.copy(next, e.pos);
  files.set(e.ino, next);
}

function applyName(names, e) {
  if (e.op === 'create') names.set(e.path, e.ino);
  else if (e.op === 'link' && names.has(e.from)) names.set(e.to, names.get(e.from));
  else if (e.op === 'rename' && names.has(e.from)) {
    names.set(e.to, names.get(e.from));
    names.delete(e.from);
  } else if (e.op === 'unlink') names.delete(e.path);
}

/**
 * Writes a crash state under `dir` (names are mapped from the workload's directory). Files get an
 * old mtime, as they would have after a reboot, so that leftover temps count as leftovers.
 */
function materialize(state, fromDir, dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const past = new Date(Date.now() - 60_000);
  for (const [name, ino] of state.names) {
    if (path.dirname(name) !== fromDir) continue;
    const file = path.join(dir, path.basename(name));
    fs.writeFileSync(file, state.files.get(ino) ?? Buffer.alloc(0));
    fs.utimesSync(file, past, past);
  }
}

/**
 * The workloads: appends with 'always' durability, with concurrency and appendMany groups, and by
 * name a second writer, compactions, or a compactor that dies between its rename and its
 * directory fsync. Each notes every record it appends when its append resolves.
 */
export const WORKLOADS = {
  async appends(file, rnd, note) {
    const j = await Journal.open(file);
    await burst(j, rnd, note, 6);
    await j.close();
  },
  async twoWriters(file, rnd, note) {
    const a = await Journal.open(file);
    const b = await Journal.open(file);
    await Promise.all([burst(a, rnd, note, 3), burst(b, rnd, note, 3)]);
    await a.close();
    await b.close();
  },
  async compaction(file, rnd, note) {
    const j = await Journal.open(file);
    await burst(j, rnd, note, 3);
    await Promise.all([compact(file), burst(j, rnd, note, 2)]);
    await burst(j, rnd, note, 2);
    await j.close();
  },
  async compactorDiesAfterRename(file, rnd, note, ctl) {
    const j = await Journal.open(file);
    await burst(j, rnd, note, 3);
    ctl.failDirSyncAfterRename();
    await compact(file).then(() => {
      throw new Error('the compaction was to fail at its directory fsync');
    }, (err) => {
      if (err.code !== 'SYNC_FAILED') throw err;
    });
    // The writer finds the file replaced; what it appends now must not depend on the compactor's fsync.
    await burst(j, rnd, note, 3);
    await j.close();
  },
};

async function burst(j, rnd, note, rounds) {
  for (let r = 0; r < rounds; r++) {
    const work = [];
    for (let p = 0; p < 1 + rnd.int(8); p++) {
      const value = { r, p, pad: 'x'.repeat(rnd.int(700)) };
      if (rnd.chance(0.3)) {
        const values = [value, { ...value, second: true }, { ...value, third: true }];
        work.push(j.appendMany(values).then((rs) => rs.forEach((x, i) => note(x.seq, values[i]))));
      } else {
        work.push(j.append(value).then((x) => note(x.seq, value)));
      }
    }
    await Promise.all(work);
  }
}

/** A scratch directory on tmpfs when there is one: the model, not the disk, decides what survives. */
function scratchBase() {
  return fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
}

/**
 * Runs workload `workload` once while recording, then checks `states` crash states built from the
 * record, spread evenly over its crash points. With `broken`, the writer is one of the PLANTED
 * broken ones, during the workload and during recovery. Returns counts and the first violations.
 */
export async function run({ seed, workload = 'appends', states = 200, broken = null }) {
  const rnd = prng(seed);
  const base = fs.mkdtempSync(path.join(scratchBase(), 'jj-powerloss-'));
  const live = path.join(base, 'live');
  fs.mkdirSync(live);
  const file = path.join(live, 'j.jsonl');
  const written = new Map();
  const log = [];
  const note = (seq, value) => {
    written.set(seq, JSON.stringify(value));
    log.push({ op: 'ack', seq });
  };
  // The broken writer calls through the recorder, which logs only what really reaches the disk.
  const recorder = record(log);
  const unplant = broken ? plant(broken) : () => {};
  try {
    await WORKLOADS[workload](file, rnd, note, recorder);
  } finally {
    unplant();
    recorder.restore();
  }
  const stats = { suite: 'power loss', workload, states: 0, acked: 0, lost: 0, corrupt: 0, cuts: 0, failures: [] };
  const crashDir = path.join(base, 'crash');
  const allSeqs = [...written.keys()].sort((a, b) => a - b);
  try {
    for (let n = 0; n < states; n++) {
      const k = 1 + Math.floor(((n + rnd.next()) * log.length) / states);
      const acked = log.slice(0, k).filter((e) => e.op === 'ack').map((e) => e.seq);
      materialize(crashState(log, k, rnd), live, crashDir);
      stats.states++;
      stats.acked += acked.length;
      const undo = broken ? plant(broken) : () => {};
      let problem;
      try {
        problem = await check(path.join(crashDir, 'j.jsonl'), written, allSeqs, acked, stats);
      } finally {
        undo();
      }
      if (problem !== null) {
        stats.failures.push(`seed ${seed}, ${workload}${broken ? ` (planted: ${broken})` : ''}, crash after log entry ${k - 1} of ${log.length}: ${problem}`);
      }
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
  return stats;
}

/** Opens, reads and appends to a crash state; returns what is wrong with it, or null. */
async function check(file, written, allSeqs, acked, stats) {
  // A crash before the journal's name was durable leaves no journal: open creates one.
  const before = fs.existsSync(file) ? fs.readFileSync(file) : null;
  let j;
  try {
    j = await Journal.open(file);
  } catch (err) {
    return `open failed: ${err.code ?? ''} ${err.message}`;
  }
  // Whatever open cut was saved first, byte for byte.
  const cut = before === null ? null : savedCutProblem(file, before, j.recovered);
  if (j.recovered !== null) stats.cuts++;
  if (cut !== null) {
    await j.close();
    return cut;
  }
  const leftovers = fs.readdirSync(path.dirname(file)).filter((n) => n.endsWith('.tmp'));
  if (leftovers.length > 0) {
    await j.close();
    return `temp files left after open: ${leftovers.join(', ')}`;
  }
  const recs = [];
  try {
    for await (const r of readJournal(file)) recs.push(r);
  } catch (err) {
    await j.close();
    return `read failed: ${err.code ?? ''} ${err.message}`;
  }
  // Exactly a prefix of what was written: the records of the first recs.length seqs, unchanged.
  for (let i = 0; i < recs.length; i++) {
    const want = allSeqs[i];
    if (recs[i].seq !== want || JSON.stringify(recs[i].data) !== written.get(want)) {
      stats.corrupt++;
      await j.close();
      return `record ${i} is seq ${recs[i].seq}, not the written seq ${want} with its data`;
    }
  }
  const have = new Set(recs.map((r) => r.seq));
  const lost = acked.filter((s) => !have.has(s));
  if (lost.length > 0) {
    stats.lost += lost.length;
    await j.close();
    return `${lost.length} acknowledged records lost (first: seq ${lost[0]})`;
  }
  // The next append reads back: a torn tail left in place would swallow it.
  let next;
  try {
    next = await j.append({ after: 'crash' });
    await j.close();
  } catch (err) {
    return `append after recovery failed: ${err.code ?? ''} ${err.message}`;
  }
  const after = [];
  for await (const r of readJournal(file, { corrupt: 'skip' })) after.push(r.seq);
  if (after.at(-1) !== next.seq || after.length !== recs.length + 1) return `the append after recovery (seq ${next.seq}) did not read back`;
  const report = await verify(file);
  if (!report.ok) return `not clean after recovery: ${JSON.stringify({ tornTail: report.tornTail, corrupt: report.corrupt.slice(0, 2) })}`;
  return null;
}

/**
 * What is wrong with what open says it cut (`recovered`) from a file whose bytes were `before`:
 * the journal must now end where the cut began, and the saved file hold exactly the bytes cut.
 */
export function savedCutProblem(file, before, recovered) {
  const size = fs.statSync(file).size;
  if (recovered === null) return size === before.length ? null : `open changed the file (${before.length} -> ${size} bytes) but says it cut nothing`;
  const { offset, bytes, savedTo } = recovered;
  if (offset !== size || offset + bytes !== before.length) return `open says it cut ${bytes} bytes at ${offset}, but the file went from ${before.length} to ${size} bytes`;
  let saved;
  try {
    saved = fs.readFileSync(savedTo);
  } catch (err) {
    return `the cut was not saved: ${err.code ?? ''} ${err.message}`;
  }
  return saved.equals(before.subarray(offset)) ? null : `the saved cut ${savedTo} is not the ${bytes} bytes that were cut`;
}
