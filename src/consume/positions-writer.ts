/**
 * The writer of a journal's positions log, shared by its consumers in this process: commits made
 * while one is written are merged into the next batch (docs/design.md, "Named consumers").
 */
import path from 'node:path';
import { compact } from '../compact/compact.js';
import { ErrorCode, JournalError } from '../errors.js';
import { makeDirDurably } from '../fs/durable.js';
import { io } from '../fs/io.js';
import { entryData, outranks, parseEntry, rank, type PositionEntry } from '../positions/entry.js';
import { consumersDir, positionsLog } from '../positions/layout.js';
import { readPositions } from '../positions/store.js';
import { Journal } from '../write/journal.js';

/** The log is compacted when it reaches this size, or four times its size after the last compaction. */
const COMPACT_AT_BYTES = 1024 * 1024;

interface Waiting {
  entry: PositionEntry;
  /** True when the consumer was reset or deleted by force under its holder: its line must not be written. */
  fenced: (() => boolean) | null;
  settle: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
}

/** One writer per positions log in this process, while anyone uses it. */
const open = new Map<string, Promise<PositionsWriter>>();

export class PositionsWriter {
  readonly #journal: string;
  readonly #log: string;
  readonly #out: Journal;
  #refs = 1;
  #pending = new Map<string, Waiting>();
  #running = false;
  #idle: Promise<void> = Promise.resolve();
  #failed: unknown = null;
  #compactAt = COMPACT_AT_BYTES;

  private constructor(journal: string, out: Journal) {
    this.#journal = journal;
    this.#log = positionsLog(journal);
    this.#out = out;
  }

  /** The writer of the journal's positions log, opened (and the log created) if this process has none. */
  static async acquire(journal: string): Promise<PositionsWriter> {
    const key = path.resolve(positionsLog(journal));
    for (;;) {
      const known = open.get(key);
      if (known !== undefined) {
        const w = await known.catch(() => null);
        // A writer that failed, or is closing, is replaced by a new one.
        if (w !== null && w.#failed === null && w.#refs > 0) {
          w.#refs++;
          return w;
        }
        if (open.get(key) === known) open.delete(key);
        continue;
      }
      const opening = (async () => {
        await makeDirDurably(consumersDir(journal));
        return new PositionsWriter(journal, await Journal.open(positionsLog(journal)));
      })();
      open.set(key, opening);
      opening.catch(() => {
        if (open.get(key) === opening) open.delete(key);
      });
      return opening;
    }
  }

  /**
   * Writes `entry` durably: resolves once a line at least as high (see outranks) is in the log
   * for its consumer. Lines for one consumer written while another is being written are merged.
   */
  write(entry: PositionEntry, fenced: (() => boolean) | null = null): Promise<void> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      const w = this.#pending.get(entry.name);
      if (w === undefined) this.#pending.set(entry.name, { entry, fenced, settle: [{ resolve, reject }] });
      else {
        if (outranks(entry, w.entry)) {
          w.entry = entry;
          w.fenced = fenced;
        }
        w.settle.push({ resolve, reject });
      }
      if (!this.#running) {
        this.#running = true;
        // A microtask, so that commits made in the same synchronous run share the batch.
        this.#idle = new Promise<void>((done) => queueMicrotask(() => void this.#run().finally(done)));
      }
    });
  }

  /** Gives up one use; the last one waits for what is being written and closes the log. */
  async release(): Promise<void> {
    if (--this.#refs > 0) return;
    await this.#idle;
    await this.#out.close();
  }

  async #run(): Promise<void> {
    try {
      while (this.#pending.size > 0) {
        const batch = [...this.#pending.values()];
        this.#pending = new Map();
        const lines: Waiting[] = [];
        for (const w of batch) {
          if (w.fenced?.()) for (const s of w.settle) s.reject(this.#fencedError(w.entry.name));
          else lines.push(w);
        }
        if (lines.length === 0) continue;
        try {
          await this.#out.appendMany(lines.map((w) => entryData(w.entry)));
        } catch (err) {
          this.#fail(err, lines);
          return;
        }
        for (const w of lines) for (const s of w.settle) s.resolve();
        try {
          await this.#compactIfGrown();
        } catch (err) {
          this.#fail(err, []);
          return;
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** Rewrites the log with one line per consumer (and epoch) once it has grown; another process compacting it is fine. */
  async #compactIfGrown(): Promise<void> {
    const size = io.statSync(this.#log)?.size ?? 0;
    if (size < this.#compactAt) return;
    const positions = await readPositions(this.#journal);
    try {
      const r = await compact(this.#log, {
        // The lines of equal rank differ only in time and settings: the latest of them is kept.
        key: (rec) => {
          const e = parseEntry(rec.data);
          return e === null ? undefined : `${e.name}\u0000${e.epoch}\u0000${rank(e)}`;
        },
        keep: (rec) => {
          const e = parseEntry(rec.data);
          return e === null || !positions.outranked(e);
        },
        retainForConsumers: false,
      });
      this.#compactAt = Math.max(COMPACT_AT_BYTES, 4 * r.bytesAfter);
    } catch (err) {
      if (!(err instanceof JournalError && err.code === ErrorCode.COMPACTING)) throw err;
      // Another process is compacting it: look again once the log has grown as much again.
      this.#compactAt = 2 * size;
    }
  }

  #fail(err: unknown, lines: Waiting[]): void {
    this.#failed = err;
    for (const w of [...lines, ...this.#pending.values()]) for (const s of w.settle) s.reject(err);
    this.#pending.clear();
    // The next acquire() opens a new writer in its place.
    this.#out.close().catch(() => {});
  }

  #fencedError(name: string): JournalError {
    return new JournalError(ErrorCode.CONSUMER_RESET,
      `${this.#journal}: consumer '${name}' was reset or deleted by another process while open here; its commits no longer count: open it again`,
      { path: this.#journal });
  }
}

