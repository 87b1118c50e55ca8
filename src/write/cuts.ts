/**
 * Keeping what is cut: a torn tail is copied, durably, into `<journal>.cut/` before it is cut from
 * the journal, so that nobody loses bytes without a trace. Only the newest cuts are kept.
 */
import path from 'node:path';
import { ioError } from '../errors.js';
import { copyRangeDurably, makeDirDurably } from '../fs/durable.js';
import { dirOf, io } from '../fs/io.js';

/** At most this many saved cuts are kept per journal; older ones are removed when a new one is saved. */
export const MAX_SAVED_CUTS = 32;
/** And at most this many bytes of them, the newest cut always kept. */
export const MAX_SAVED_CUT_BYTES = 256 * 1024 * 1024;

/** The directory where a journal's cut tails are kept. */
export function cutsDir(journal: string): string {
  return path.join(dirOf(journal), `${path.basename(journal)}.cut`);
}

/**
 * Saves the bytes `[from, to)` of the journal open at `fd` as `<journal>.cut/<ms>-at-<from>.cut`,
 * durably, then drops the oldest saved cuts beyond the bounds. Returns the saved file's path.
 */
export async function saveCut(journal: string, fd: number, from: number, to: number): Promise<string> {
  const dir = cutsDir(journal);
  await makeDirDurably(dir);
  let target: string;
  for (let stamp = Date.now(); ; stamp++) {
    target = path.join(dir, `${stamp}-at-${from}.cut`);
    if (io.statSync(target) === null) break;
  }
  await copyRangeDurably(fd, from, to, target);
  await dropOldCuts(dir, target);
  return target;
}

/** Removes the oldest saved cuts beyond MAX_SAVED_CUTS or MAX_SAVED_CUT_BYTES, never `keep`. */
async function dropOldCuts(dir: string, keep: string): Promise<void> {
  let names: string[];
  try {
    names = (await io.readdir(dir)).filter((n) => /^\d+-at-\d+\.cut$/.test(n));
  } catch (err) {
    throw ioError('cannot list', dir, err);
  }
  // Newest first: the names start with the time they were saved.
  names.sort((a, b) => Number(b.split('-')[0]) - Number(a.split('-')[0]));
  let bytes = 0;
  for (const [i, name] of names.entries()) {
    const p = path.join(dir, name);
    bytes += io.statSync(p)?.size ?? 0;
    if (p !== keep && (i >= MAX_SAVED_CUTS || bytes > MAX_SAVED_CUT_BYTES)) await io.unlink(p).catch(() => {});
  }
}
