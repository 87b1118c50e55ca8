/**
 * Named consumers: a durable position per consumer, kept next to the journal, so that a consumer
 * process resumes after the last record it committed, whatever happened to it or to the journal.
 *
 * Positions live in `<journal>.consumers/<name>.pos`, one framed JSON line each (the journal's own
 * line format), replaced by write-replace (temp, fsync, rename, directory fsync) on every commit.
 * A position records the committed seq and a fingerprint of that record (its timestamp and a CRC of
 * its data), so a consumer can tell when the journal no longer holds the record it committed:
 * divergence, for instance after a power loss took back records that new ones then replaced.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from './crc.js';
import { ErrorCode, JournalError, ioError } from './errors.js';
import { openJournalFile } from './file.js';
import { decodeFrame, frameJson } from './format.js';
import { dirOf, io } from './io.js';
import { follow, type FollowOptions, type Follower } from './follow.js';
import { readJournal, type JournalRecord } from './reader.js';
import { FileLock } from './lock.js';
import { scanTail } from './recover.js';
import { DEFAULT_MAX_LINE } from './reader.js';

/** How long finding the journal's last seq may wait for the writers' lock. */
const TAIL_LOCK_TIMEOUT_MS = 30_000;

export interface ConsumerPosition {
  name: string;
  /** The last committed seq (0: nothing committed yet). */
  seq: number;
  /** When the position was last committed (ms since the epoch), 0 if never. */
  updated: number;
  /** The id of the journal the position belongs to. */
  journal: string | null;
}

export interface ConsumerInfo extends ConsumerPosition {
  /** Records in the journal after the committed one (by seq). */
  lag: number;
}

interface StoredPosition extends ConsumerPosition {
  /** Fingerprint of the committed record: `<ts>:<crc of its data's JSON>`. */
  fingerprint: string | null;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The directory holding a journal's consumer positions. */
export function consumersDir(journal: string): string {
  return path.join(dirOf(journal), `${path.basename(journal)}.consumers`);
}

const fingerprint = (rec: JournalRecord): string => `${rec.ts}:${crc32(Buffer.from(JSON.stringify(rec.data))).toString(16)}`;

export class Consumer {
  readonly path: string;
  readonly name: string;
  #pos: StoredPosition;
  /** Records handed out and not yet committed, by seq (for their fingerprints). */
  #uncommitted = new Map<number, JournalRecord>();
  #lastYielded = 0;
  #committing: Promise<void> = Promise.resolve();
  /** The journal's id (it never changes, compaction keeps it), read at the first commit. */
  #journalId: string | null = null;

  private constructor(file: string, name: string, pos: StoredPosition) {
    this.path = file;
    this.name = name;
    this.#pos = pos;
  }

  /** Opens the named consumer of the journal at `path`, or creates it at seq 0 (and stores that position). */
  static async open(file: string, name: string): Promise<Consumer> {
    if (typeof file !== 'string' || file === '') throw new TypeError('path must be a non-empty string');
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new TypeError('a consumer name is 1 to 100 of A-Z a-z 0-9 . _ - and starts with a letter or digit');
    }
    let pos = await readPosition(file, name);
    await removeStaleTemps(file, name);
    if (pos === null) {
      // Registered at once, at seq 0: retention for consumers must keep everything a consumer that
      // has not committed yet still needs, and listings must show it.
      pos = { name, seq: 0, updated: Date.now(), journal: null, fingerprint: null };
      await writePosition(file, pos);
    }
    return new Consumer(file, name, pos);
  }

  /** The last committed seq (0 before the first commit). */
  get committedSeq(): number {
    return this.#pos.seq;
  }

  /**
   * The records after the committed position: replayed, then followed live (see follow()). Before
   * starting, checks that the journal still holds the committed record, and fails with DIVERGED if
   * not. Delivery is at-least-once: after a crash, records handed out but not committed come again.
   *
   * `fromSeq` starts earlier than the committed position, for a consumer whose output lost what it
   * had processed (it cannot start later: that would skip records without committing them).
   */
  records(opts: FollowOptions = {}): AsyncIterableIterator<JournalRecord> & AsyncDisposable {
    const from = opts.fromSeq ?? this.#pos.seq + 1;
    if (!Number.isSafeInteger(from) || from < 1 || from > this.#pos.seq + 1) {
      throw new RangeError(`fromSeq must be a positive integer no higher than the committed seq + 1 (${this.#pos.seq + 1})`);
    }
    let follower: Follower | null = null;
    const self = this;
    const it = {
      async next(): Promise<IteratorResult<JournalRecord>> {
        if (follower === null) {
          await self.#checkDivergence();
          follower = follow(self.path, { ...opts, fromSeq: from });
        }
        const r = await follower.next();
        if (!r.done) {
          self.#uncommitted.set(r.value.seq, r.value);
          self.#lastYielded = r.value.seq;
        }
        return r;
      },
      async return(): Promise<IteratorResult<JournalRecord>> {
        await follower?.return();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return it;
      },
      async [Symbol.asyncDispose]() {
        await follower?.return();
      },
    };
    return it;
  }

  /**
   * Durably records that everything up to `seq` is processed (write-replace of the position file).
   * `seq` must be a record this consumer handed out; committing below the current position is a no-op.
   */
  commit(seq: number): Promise<void> {
    const run = this.#committing.then(() => this.#commit(seq));
    this.#committing = run.catch(() => {});
    return run;
  }

  async #commit(seq: number): Promise<void> {
    if (seq <= this.#pos.seq) return;
    const rec = this.#uncommitted.get(seq);
    if (rec === undefined || seq > this.#lastYielded) throw new RangeError(`seq ${seq} was not handed out by this consumer`);
    this.#journalId ??= await journalId(this.path);
    const next: StoredPosition = { name: this.name, seq, updated: Date.now(), journal: this.#journalId, fingerprint: fingerprint(rec) };
    await writePosition(this.path, next);
    this.#pos = next;
    for (const s of this.#uncommitted.keys()) if (s <= seq) this.#uncommitted.delete(s);
  }

  async #checkDivergence(): Promise<void> {
    const pos = this.#pos;
    if (pos.seq === 0) return;
    const { id, lastSeq } = await journalTail(this.path);
    const diverged = (why: string) => new JournalError(ErrorCode.DIVERGED,
      `${this.path}: consumer '${this.name}' committed seq ${pos.seq}, but ${why}; rebuild what it produced, or remove its position`, { path: this.path });
    if (pos.journal !== null && pos.journal !== id) throw diverged(`the journal is another one (id ${id}, the position names ${pos.journal})`);
    if (pos.seq > lastSeq) throw diverged(`the journal ends at seq ${lastSeq}`);
    const it = readJournal(this.path, { fromSeq: pos.seq });
    try {
      const first = await it.next();
      if (!first.done && first.value.seq === pos.seq && pos.fingerprint !== null && fingerprint(first.value) !== pos.fingerprint) {
        throw diverged(`the record at seq ${pos.seq} is not the one it committed (fingerprint ${fingerprint(first.value)}, committed ${pos.fingerprint})`);
      }
    } finally {
      await it.return();
    }
  }
}

/** Every consumer of the journal at `path`, with its position and lag. */
export async function listConsumers(file: string): Promise<ConsumerInfo[]> {
  const { lastSeq } = await journalTail(file);
  let names: string[];
  try {
    names = await io.readdir(consumersDir(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError('cannot list consumers of', file, err);
  }
  const out: ConsumerInfo[] = [];
  for (const n of names.sort()) {
    if (!n.endsWith('.pos')) continue;
    const pos = await readPosition(file, n.slice(0, -4));
    if (pos === null) continue;
    out.push({ name: pos.name, seq: pos.seq, updated: pos.updated, journal: pos.journal, lag: Math.max(0, lastSeq - pos.seq) });
  }
  return out;
}

/**
 * The lowest seq any consumer still needs (its committed seq + 1), or undefined if there are no
 * consumers: compaction's `retainForConsumers` keeps everything from there.
 */
export async function consumersFloor(file: string): Promise<number | undefined> {
  const all = await listConsumers(file);
  return all.length === 0 ? undefined : Math.min(...all.map((c) => c.seq + 1));
}

async function readPosition(file: string, name: string): Promise<StoredPosition | null> {
  const p = path.join(consumersDir(file), `${name}.pos`);
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError('cannot read the consumer position', p, err);
  }
  const lf = bytes.indexOf(0x0a);
  const decoded = decodeFrame(bytes.subarray(0, lf < 0 ? bytes.length : lf));
  const o = typeof decoded === 'string' ? null : (decoded.value as Partial<StoredPosition> | null);
  // A position is written by write-replace, so a damaged one is corruption, never a torn write.
  if (o === null || typeof o !== 'object' || typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq) || o.seq < 0) {
    throw new JournalError(ErrorCode.CORRUPT, `${p}: consumer position is damaged (${typeof decoded === 'string' ? decoded : 'not a position'})`, { path: p });
  }
  return { name, seq: o.seq, updated: o.updated ?? 0, journal: o.journal ?? null, fingerprint: o.fingerprint ?? null };
}

async function writePosition(file: string, pos: StoredPosition): Promise<void> {
  const dir = consumersDir(file);
  try {
    await fs.promises.mkdir(dir);
    // The new directory's own name must be durable too.
    await io.fsyncDir(dirOf(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('cannot create', dir, err);
  }
  const target = path.join(dir, `${pos.name}.pos`);
  const tmp = path.join(dir, `.${pos.name}.pos.${randomBytes(6).toString('hex')}.tmp`);
  const line = frameJson(JSON.stringify({ name: pos.name, seq: pos.seq, updated: pos.updated, journal: pos.journal, fingerprint: pos.fingerprint }));
  let fd: number;
  try {
    fd = await io.open(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
  } catch (err) {
    throw ioError('cannot create', tmp, err);
  }
  let writing = true;
  try {
    let off = 0;
    while (off < line.length) {
      const n = await io.write(fd, line, off, line.length - off, off);
      if (n <= 0) throw new Error('write made no progress');
      off += n;
    }
    writing = false;
    await io.fsync(fd);
  } catch (err) {
    await io.close(fd).catch(() => {});
    await io.unlink(tmp).catch(() => {});
    throw writing
      ? ioError('cannot write the consumer position', tmp, err, ErrorCode.WRITE_FAILED)
      : ioError('fsync failed on the consumer position', tmp, err, ErrorCode.SYNC_FAILED);
  }
  try {
    await io.close(fd);
  } catch (err) {
    await io.unlink(tmp).catch(() => {});
    throw ioError('cannot close', tmp, err);
  }
  try {
    await io.rename(tmp, target);
  } catch (err) {
    await io.unlink(tmp).catch(() => {});
    throw ioError('cannot put the consumer position in place at', target, err);
  }
  try {
    await io.fsyncDir(dir);
  } catch (err) {
    throw ioError('cannot fsync the directory of the consumer position', target, err, ErrorCode.SYNC_FAILED);
  }
}

/** Removes temp files a crash left from this consumer's commits (see writePosition). */
async function removeStaleTemps(file: string, name: string): Promise<void> {
  const dir = consumersDir(file);
  let names: string[];
  try {
    names = await io.readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(`.${name}.pos.`) || !n.endsWith('.tmp')) continue;
    await io.unlink(path.join(dir, n)).catch(() => {});
  }
}

async function journalId(file: string): Promise<string> {
  const { fd, header } = await openJournalFile(file, 'r');
  await io.close(fd).catch(() => {});
  return header.id;
}

/** The journal's id and the highest seq it has assigned (from its header and its last commit). */
async function journalTail(file: string): Promise<{ id: string; lastSeq: number }> {
  const { fd, header, headerEnd } = await openJournalFile(file, 'r');
  const lock = new FileLock(fd, file);
  try {
    // Briefly under the writers' lock: the tail may be a torn batch that a writer is about to cut
    // and overwrite, and reading it while that happens could mix old and new bytes.
    await lock.acquire(TAIL_LOCK_TIMEOUT_MS);
    try {
      const state = await scanTail(fd, file, headerEnd, io.fstatSync(fd).size, DEFAULT_MAX_LINE);
      return { id: header.id, lastSeq: Math.max(header.maxSeq, state.lastSeq) };
    } finally {
      lock.release();
    }
  } finally {
    await io.close(fd).catch(() => {});
  }
}
