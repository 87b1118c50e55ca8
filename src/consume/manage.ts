/**
 * What an operator does to a consumer that is not running: reset its position to a target, or
 * delete it. Both refuse to act under a running consumer unless forced; a forced one fences it off.
 */
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { syncDirOf } from '../fs/durable.js';
import { io } from '../fs/io.js';
import { removeLegacyPosition } from '../positions/legacy.js';
import { checkConsumerName, groupLog, lockFile } from '../positions/layout.js';
import { LiveLock, removeLockFile } from '../positions/liveness.js';
import { readPositions, type Positions } from '../positions/store.js';
import { PositionsWriter } from './positions-writer.js';
import { checkTarget, nextSeqFor, type SeekTarget } from './targets.js';

export interface ResetOptions {
  /**
   * Act even while the consumer is open in a running process. That process's commits are then
   * refused (CONSUMER_RESET) and no longer count; a group's members stop at their next claim.
   * @default false
   */
  force?: boolean;
}

export interface ResetResult {
  name: string;
  /** The committed seq before the reset. */
  previous: number;
  /** The committed seq now: the consumer reads `seq + 1` next. */
  seq: number;
  /** Whether it was running (and was fenced off by `force`). */
  wasLive: boolean;
}

export interface DeleteResult {
  name: string;
  /** Its committed seq when it was deleted. */
  seq: number;
  wasLive: boolean;
}

/** Moves consumer `name` so that `to` is where it reads next. */
export async function resetConsumer(file: string, name: string, to: SeekTarget, opts: ResetOptions = {}): Promise<ResetResult> {
  checkArgs(file, name);
  checkTarget(to);
  // Before the lock: a target the journal cannot give fences nobody off.
  const { next, journal } = await nextSeqFor(file, to);
  return underLock(file, name, opts, async (positions, wasLive) => {
    const cur = positions.get(name);
    if (cur === undefined) throw notFound(file, name);
    const { lastActive: _, ...rest } = cur;
    await writeLine(file, { ...rest, epoch: positions.epoch(name) + 1, seq: next - 1, journal, fingerprint: null, updated: Date.now() });
    if (positions.isLegacy(name)) await removeLegacyPosition(file, name);
    return { name, previous: cur.seq, seq: next - 1, wasLive };
  });
}

/** Deletes consumer `name` (a group: its work log too). */
export async function deleteConsumer(file: string, name: string, opts: ResetOptions = {}): Promise<DeleteResult> {
  checkArgs(file, name);
  return underLock(file, name, opts, async (positions, wasLive) => {
    const cur = positions.get(name);
    if (cur === undefined) throw notFound(file, name);
    await writeLine(file, { name, epoch: positions.epoch(name) + 1, $tombstone: true });
    if (positions.isLegacy(name)) await removeLegacyPosition(file, name);
    if (cur.group) await removeFile(groupLog(file, name));
    // Only now: a consumer opened after this makes a new lock, and reads the deletion.
    await removeLockFile(lockFile(file, name));
    return { name, seq: cur.seq, wasLive };
  });
}

function checkArgs(file: unknown, name: unknown): void {
  if (typeof file !== 'string' || file === '') throw new TypeError('path must be a non-empty string');
  checkConsumerName(name);
}

/**
 * Runs `act` holding the consumer's lock. A live consumer is refused unless `force` says so: then
 * the lock file is removed, which fences off its holder, and the new one is taken, so that nobody
 * opens the consumer between the fence and the line that moves it (an open in that gap is fenced
 * off too).
 */
async function underLock<T>(file: string, name: string, opts: ResetOptions, act: (positions: Positions, wasLive: boolean) => Promise<T>): Promise<T> {
  if (io.statSync(file) === null) throw new JournalError(ErrorCode.NOT_FOUND, `${file} does not exist`, { path: file });
  let lock = await LiveLock.takeIfIdle(file, name);
  const wasLive = lock === null;
  if (wasLive && opts.force !== true) {
    throw new JournalError(ErrorCode.CONSUMER_BUSY,
      `${file}: consumer '${name}' is open in a running process: stop it first, or force it (its later commits are then refused)`, { path: file });
  }
  while (lock === null) {
    await removeLockFile(lockFile(file, name));
    lock = await LiveLock.takeIfIdle(file, name);
  }
  try {
    return await act(await readPositions(file), wasLive);
  } finally {
    await lock.release();
  }
}

async function writeLine(file: string, entry: Parameters<PositionsWriter['write']>[0]): Promise<void> {
  const w = await PositionsWriter.acquire(file);
  try {
    await w.write(entry);
  } finally {
    await w.release();
  }
}

async function removeFile(p: string): Promise<void> {
  try {
    await io.unlink(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw ioError('cannot remove', p, err);
  }
  await syncDirOf(p);
}

const notFound = (file: string, name: string) => new JournalError(ErrorCode.NOT_FOUND, `${file}: no consumer named '${name}'`, { path: file });
