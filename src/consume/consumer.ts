/**
 * Named consumers: a durable position per consumer, so that a consumer process resumes after the
 * last record it committed, and can tell when the journal no longer holds that record (divergence).
 */
import { crc32 } from '../format/crc.js';
import { ErrorCode, JournalError } from '../errors.js';
import { follow, type FollowOptions, type Follower } from '../read/follow.js';
import { journalInfo } from '../read/info.js';
import { readJournal, type JournalRecord } from '../read/reader.js';
import {
  CONSUMER_NAME, consumerNames, readPosition, removeStalePositionTemps, writePosition, type ConsumerPosition, type StoredPosition,
} from './positions.js';

export type { ConsumerPosition };

export interface ConsumerInfo extends ConsumerPosition {
  /** Records in the journal after the committed one (by seq). */
  lag: number;
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
    if (typeof name !== 'string' || !CONSUMER_NAME.test(name)) {
      throw new TypeError('a consumer name is 1 to 100 of A-Z a-z 0-9 . _ - and starts with a letter or digit');
    }
    let pos = await readPosition(file, name);
    await removeStalePositionTemps(file, name);
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
    this.#journalId ??= (await journalInfo(this.path)).header.id;
    const next: StoredPosition = { name: this.name, seq, updated: Date.now(), journal: this.#journalId, fingerprint: fingerprint(rec) };
    await writePosition(this.path, next);
    this.#pos = next;
    for (const s of this.#uncommitted.keys()) if (s <= seq) this.#uncommitted.delete(s);
  }

  async #checkDivergence(): Promise<void> {
    const pos = this.#pos;
    if (pos.seq === 0) return;
    const { header: { id }, lastSeq } = await journalInfo(this.path);
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
  const { lastSeq } = await journalInfo(file);
  const out: ConsumerInfo[] = [];
  for (const n of await consumerNames(file)) {
    const pos = await readPosition(file, n);
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

