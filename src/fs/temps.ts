/**
 * Temp files beside a file: their names, their creation (locked while live), and the removal of
 * those a crash left behind.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ioError } from '../errors.js';
import { dirOf, io } from './io.js';
import { FileLock } from './lock.js';

/** A temp file younger than this is left alone even when unlocked: its creator may not have locked it yet. */
const STALE_AFTER_MS = 2000;

/** Name of a temp file next to `file`: `.<name>.<kind>-<random>.tmp`. `kind` says who made it (create, compact, ...). */
export function tempName(file: string, kind: string): string {
  return path.join(dirOf(file), `.${path.basename(file)}.${kind}-${randomBytes(6).toString('hex')}.tmp`);
}

export interface Temp {
  path: string;
  fd: number;
  /** Held from creation: it marks the temp live, so that removeStaleTemps leaves it alone. */
  lock: FileLock;
}

/** Creates a new temp file next to `file`, open read-write and locked. */
export async function createTemp(file: string, kind: string): Promise<Temp> {
  const tmp = tempName(file, kind);
  let fd: number;
  try {
    fd = await io.open(tmp, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
  } catch (err) {
    throw ioError('cannot create', tmp, err);
  }
  const lock = new FileLock(fd, tmp);
  try {
    // A file nobody else has opened yet: the lock is free.
    if (!lock.tryAcquire()) throw new Error(`internal: cannot lock ${tmp}, a file just created`);
  } catch (err) {
    await io.close(fd).catch(() => {});
    await io.unlink(tmp).catch(() => {});
    throw err;
  }
  return { path: tmp, fd, lock };
}

/** Closes a temp; removes it unless `keep` (it was renamed or linked into place). */
export async function closeTemp(t: Temp, keep: boolean): Promise<void> {
  if (!keep) await io.unlink(t.path).catch(() => {});
  try {
    t.lock.release();
  } finally {
    await t.lock.closeWhenSettled(() => io.close(t.fd)).catch(() => {});
  }
}

/**
 * Removes the temp files a crash left next to `file` (those createTemp made for it). A temp is a
 * leftover only if nobody holds its lock (a live creator always does, moments after creating it)
 * and it is not brand new. Returns the paths removed.
 */
export async function removeStaleTemps(file: string): Promise<string[]> {
  const dir = dirOf(file);
  const prefix = `.${path.basename(file)}.`;
  let names: string[];
  try {
    names = await io.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const tmp = path.join(dir, name);
    let fd: number;
    try {
      fd = await io.open(tmp, fs.constants.O_RDONLY);
    } catch {
      continue;
    }
    try {
      const fresh = Date.now() - fs.fstatSync(fd).mtimeMs < STALE_AFTER_MS;
      if (!fresh && io.tryLockSync(fd)) {
        await io.unlink(tmp);
        removed.push(tmp);
      }
    } catch {
      // Gone already, or not ours to remove: either way nothing to clean.
    } finally {
      await io.close(fd).catch(() => {});
    }
  }
  return removed;
}
