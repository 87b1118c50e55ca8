// A real full disk: a small ext4 image mounted on a loop device (needs root), filled by another
// file until a little space is left. Then (1) 256 producers append until the disk is full in the
// middle of a group commit: the batch that does not fit gets a short write and ENOSPC, every
// append of it rejects with WRITE_FAILED, the journal refuses further appends until reopened,
// nothing acknowledged is lost, and once space is freed the reopened journal appends again and
// verifies clean. (2) A compaction that runs out of space fails with a typed error, leaves the old
// journal whole and no temp file.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compact, Journal, readJournal, verify } from '../../dist/index.js';
import { io } from '../../dist/fs/io.js';

/** Why a real disk-full test cannot run here, or null if it can. */
export function unavailable() {
  if (process.platform !== 'linux') return 'needs Linux (ext4 on a loop device)';
  if (process.getuid?.() !== 0) return 'needs root, to mount a loop device';
  for (const tool of ['mkfs.ext4', 'mount', 'umount']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  if (!fs.existsSync('/dev/loop-control')) return 'needs loop devices (/dev/loop-control)';
  return null;
}

/** Fills the file system under `dir` with `filler`, then frees `leave` bytes of it. */
function fill(filler, leave) {
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(1 << 20, 0x61);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if (err.code !== 'ENOSPC') throw err;
  }
  // Byte-sized writes use up the last partial blocks too.
  try {
    for (;;) fs.writeSync(fd, chunk, 0, 4096);
  } catch (err) {
    if (err.code !== 'ENOSPC') throw err;
  }
  fs.fsyncSync(fd);
  fs.ftruncateSync(fd, Math.max(0, fs.fstatSync(fd).size - leave));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

export async function run() {
  const why = unavailable();
  if (why !== null) return { suite: 'disk full', skipped: why, states: 0, acked: 0, lost: 0, corrupt: 0, failures: [] };
  const stats = { suite: 'disk full', states: 0, acked: 0, lost: 0, corrupt: 0, failures: [], shortWrites: 0 };
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'jj-diskfull-'));
  const image = path.join(base, 'fs.img');
  const mnt = path.join(base, 'mnt');
  fs.mkdirSync(mnt);
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 16 << 20);
  execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', image], { stdio: 'ignore' });
  execFileSync('mount', ['-o', 'loop', image, mnt]);
  try {
    await groupCommitRunsOutOfSpace(mnt, stats);
    await compactionRunsOutOfSpace(mnt, stats);
  } catch (err) {
    stats.failures.push(`disk full: ${err.stack}`);
  } finally {
    execFileSync('umount', [mnt]);
    fs.rmSync(base, { recursive: true, force: true });
  }
  return stats;
}

async function groupCommitRunsOutOfSpace(mnt, stats) {
  const file = path.join(mnt, 'j.jsonl');
  const filler = path.join(mnt, 'filler');
  const fail = (m) => stats.failures.push(`group commit on a full disk: ${m}`);
  const j = await Journal.open(file);
  fill(filler, 300 * 1024);
  const { writeSync, write } = io;
  io.writeSync = (fd, buf, off, len, pos) => {
    const n = writeSync(fd, buf, off, len, pos);
    if (n < len) stats.shortWrites++;
    return n;
  };
  io.write = async (fd, buf, off, len, pos) => {
    const n = await write(fd, buf, off, len, pos);
    if (n < len) stats.shortWrites++;
    return n;
  };
  const acked = new Map();
  const errors = [];
  try {
    let stop = false;
    await Promise.all(Array.from({ length: 256 }, async (_, p) => {
      for (let k = 0; !stop; k++) {
        const value = { p, k, pad: 'z'.repeat(1000) };
        try {
          acked.set((await j.append(value)).seq, value);
        } catch (err) {
          errors.push(err);
          stop = true;
        }
      }
    }));
  } finally {
    Object.assign(io, { writeSync, write });
  }
  stats.states++;
  stats.acked += acked.size;
  if (!errors.some((e) => e.code === 'WRITE_FAILED' && e.cause?.code === 'ENOSPC')) {
    fail(`no append failed with WRITE_FAILED (ENOSPC): ${[...new Set(errors.map((e) => `${e.code} ${e.message}`))].join('; ')}`);
  }
  const odd = errors.filter((e) => !['WRITE_FAILED', 'FAILED'].includes(e.code));
  if (odd.length > 0) fail(`unexpected errors: ${odd.map((e) => `${e.code} ${e.message}`).join('; ')}`);
  const after = await j.append({ after: 'ENOSPC' }).then(() => 'resolved', (e) => e.code);
  if (after !== 'FAILED') fail(`an append after the failure ${after === 'resolved' ? 'succeeded' : `got ${after}`}, not FAILED`);
  await j.close();
  await checkAcked(file, acked, stats, fail);
  // Space again: the journal opens, appends, and verifies clean.
  fs.rmSync(filler);
  const j2 = await Journal.open(file);
  const { seq } = await j2.append({ after: 'space freed' });
  await j2.close();
  await checkAcked(file, new Map([...acked, [seq, { after: 'space freed' }]]), stats, fail);
  const report = await verify(file);
  if (!report.ok) fail(`not clean once space was freed: ${JSON.stringify(report)}`);
}

async function compactionRunsOutOfSpace(mnt, stats) {
  const file = path.join(mnt, 'c.jsonl');
  const filler = path.join(mnt, 'filler');
  const fail = (m) => stats.failures.push(`compaction on a full disk: ${m}`);
  const j = await Journal.open(file);
  const acked = new Map();
  for (let i = 0; i < 20; i++) {
    const values = Array.from({ length: 100 }, (_, k) => ({ i, k, pad: 'c'.repeat(300) }));
    (await j.appendMany(values)).forEach((r, k) => acked.set(r.seq, values[k]));
  }
  await j.close();
  const before = fs.readFileSync(file);
  fill(filler, 64 * 1024);
  stats.states++;
  stats.acked += acked.size;
  const err = await compact(file).then(() => null, (e) => e);
  if (err === null || !['WRITE_FAILED', 'SYNC_FAILED'].includes(err.code)) fail(`the compaction ended with ${err === null ? 'success' : `${err.code} ${err.message}`}`);
  if (!fs.readFileSync(file).equals(before)) fail('the journal changed');
  const left = fs.readdirSync(mnt).filter((n) => n.endsWith('.tmp'));
  if (left.length > 0) fail(`temp files left: ${left.join(', ')}`);
  fs.rmSync(filler);
  await checkAcked(file, acked, stats, fail);
}

async function checkAcked(file, acked, stats, fail) {
  const found = new Map();
  for await (const r of readJournal(file)) found.set(r.seq, JSON.stringify(r.data));
  for (const [seq, value] of acked) {
    if (found.get(seq) !== JSON.stringify(value)) {
      stats.lost++;
      fail(`acknowledged seq ${seq} ${found.has(seq) ? 'holds other data' : 'is missing'}`);
      return;
    }
  }
}
