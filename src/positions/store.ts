/**
 * Reading the consumers' positions: the positions log, read whole under its writers' lock, and the
 * position files of earlier versions for consumers the log does not name yet.
 */
import fs from 'node:fs';
import { ErrorCode, JournalError, ioError } from '../errors.js';
import { io } from '../fs/io.js';
import { FileLock } from '../fs/lock.js';
import { readJournal } from '../read/reader.js';
import { isDeletion, outranks, parseEntry, rank, type PositionEntry, type StoredPosition } from './entry.js';
import { legacyNames, readLegacyPosition } from './legacy.js';
import { positionsLog } from './layout.js';

/** How long a read of the positions log may wait for its writers' lock (held for one append at a time). */
const LOCK_TIMEOUT_MS = 30_000;

interface Best {
  entry: PositionEntry;
  lastActive: number;
  /** Read from a position file of an earlier version, not from the log. */
  legacy: boolean;
}

/** The positions of a journal's consumers at one moment. */
export class Positions {
  readonly #best: Map<string, Best>;

  constructor(best: Map<string, Best>) {
    this.#best = best;
  }

  /** Consumer `name`'s position; undefined if it has none or was deleted. */
  get(name: string): StoredPosition | undefined {
    const b = this.#best.get(name);
    if (b === undefined || isDeletion(b.entry)) return undefined;
    return { ...b.entry, lastActive: b.lastActive };
  }

  /** Every consumer's position, by name. */
  all(): StoredPosition[] {
    return [...this.#best.keys()].sort().map((n) => this.get(n)).filter((p) => p !== undefined);
  }

  /** The epoch of the line that decides `name`'s position (a deletion included), or -1 if there is none. */
  epoch(name: string): number {
    return this.#best.get(name)?.entry.epoch ?? -1;
  }

  /** Whether `name`'s position still lives in a position file of an earlier version. */
  isLegacy(name: string): boolean {
    return this.#best.get(name)?.legacy === true;
  }

  /**
   * Whether the log line `e` ranks below the line that decides its consumer's position here, and so
   * can never decide it again (lines of equal rank are not: a later one of them may carry settings).
   */
  outranked(e: PositionEntry): boolean {
    const b = this.#best.get(e.name);
    if (b === undefined || b.legacy) return false;
    return b.entry.epoch > e.epoch || (b.entry.epoch === e.epoch && rank(b.entry) > rank(e));
  }
}

export interface ReadPositionsOptions {
  /** Make what was read durable first (an fdatasync of the log): for decisions that remove records, such as compaction's. */
  durable?: boolean;
}

/** The positions of the consumers of the journal at `journal` (none if it has no consumers). */
export async function readPositions(journal: string, opts: ReadPositionsOptions = {}): Promise<Positions> {
  const best = new Map<string, Best>();
  for (const { entry, ts } of await readLog(positionsLog(journal), opts.durable === true)) {
    const cur = best.get(entry.name);
    if (cur === undefined || outranks(entry, cur.entry)) {
      const sameEpoch = cur !== undefined && cur.entry.epoch === entry.epoch;
      best.set(entry.name, { entry, lastActive: sameEpoch ? Math.max(cur.lastActive, ts) : ts, legacy: false });
    } else if (cur.entry.epoch === entry.epoch) {
      cur.lastActive = Math.max(cur.lastActive, ts);
    }
  }
  for (const name of await legacyNames(journal)) {
    if (best.has(name)) continue;
    const pos = await readLegacyPosition(journal, name);
    if (pos !== null) best.set(name, { entry: pos, lastActive: pos.lastActive, legacy: true });
  }
  return new Positions(best);
}

/** Every line of the log, with its time, read under its writers' lock so that no append or cut happens meanwhile. */
export async function readLog(log: string, durable: boolean): Promise<Array<{ entry: PositionEntry; ts: number; seq: number }>> {
  for (;;) {
    let fd: number;
    try {
      fd = await io.open(log, fs.constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw ioError('cannot open the positions log', log, err);
    }
    const lock = new FileLock(fd, log);
    try {
      await lock.acquire(LOCK_TIMEOUT_MS);
      try {
        // A lock on a file a compaction replaced protects nothing: read the one the name points to now.
        const mine = io.fstatSync(fd);
        const now = io.statSync(log);
        if (now === null || now.ino !== mine.ino || now.dev !== mine.dev) continue;
        const out: Array<{ entry: PositionEntry; ts: number; seq: number }> = [];
        for await (const rec of readJournal(log)) {
          const entry = parseEntry(rec.data);
          if (entry === null) {
            throw new JournalError(ErrorCode.CORRUPT, `${log}: the line of seq ${rec.seq} is not a consumer position`, { path: log, offset: rec.offset });
          }
          out.push({ entry, ts: rec.ts, seq: rec.seq });
        }
        if (durable) {
          try {
            await io.fdatasync(fd);
          } catch (err) {
            throw ioError('fdatasync failed on', log, err, ErrorCode.SYNC_FAILED);
          }
        }
        return out;
      } finally {
        lock.release();
      }
    } finally {
      await lock.closeWhenSettled(() => io.close(fd)).catch(() => {});
    }
  }
}
