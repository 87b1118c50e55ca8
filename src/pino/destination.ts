/**
 * journalDestination(): a pino destination that appends each line pino writes as one record, its
 * JSON exactly as written; flush(cb) calls back once every line written before it is durable
 * (docs/design.md, "pino").
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { ErrorCode, Journal, JournalError, type Durability, type JournalOptions } from 'jsonl-journal';
import { LineSplitter, lineValue, RECORD_OVERHEAD, type Line } from './lines.js';

/** The Journal's options (docs/api.md, Journal.open); `maxPendingBytes` also bounds the lines the destination holds. */
export type JournalDestinationOptions = JournalOptions;

/** Called with nothing once the lines are durable, or with the error that keeps one of them out. */
export type FlushCallback = (err?: Error) => void;

const MiB = 1024 * 1024;
/** The Journal's defaults of the bounds the destination applies before the journal sees a line. */
const DEFAULT_MAX_PENDING = 64 * MiB;
const DEFAULT_MAX_BATCH = 4 * MiB;
const DEFAULT_MAX_RECORD = 16 * MiB;

/**
 * Opens (or creates) the journal at `path` and returns a destination for pino:
 * `pino(options, await journalDestination('app.jsonl'))`.
 */
export async function journalDestination(path: string, options: JournalDestinationOptions = {}): Promise<JournalDestination> {
  const journal = await Journal.open(path, options);
  return new JournalDestination(journal, options);
}

/** What the report at process exit needs of each destination not yet closed; one 'exit' listener for all of them. */
interface OpenDestination {
  path: string;
  /** Lines taken that are not yet known to be in the file. */
  unwritten(): number;
}
const unclosed = new Set<OpenDestination>();
let exitListening = false;

export class JournalDestination extends EventEmitter {
  readonly path: string;
  readonly durability: Durability;
  readonly #journal: Journal;
  /** Lines waiting or being appended cost at most this much; a line that would pass it is dropped. */
  readonly #maxPending: number;
  /** write() returns false from here: a writer that waits for 'drain' then loses nothing while each of its writes is smaller than the rest. */
  readonly #highWater: number;
  /** The cost of one appendMany at most: never more than the journal takes in one group. */
  readonly #maxGroup: number;
  readonly #maxLine: number;
  readonly #lines = new LineSplitter();

  #waiting: Line[] = [];
  /** The cost of the lines taken and not yet written by the journal: waiting, and the group being appended. */
  #pendingCost = 0;
  /** Counts of lines, in the order written: taken by write(), written by the journal, and known durable. */
  #taken = 0;
  #written = 0;
  #durable = 0;
  #appending = false;
  #pumpQueued = false;
  #syncing = false;
  /** Flush callbacks with the count of lines each waits for, in the order of the calls. */
  #flushes: Array<{ upTo: number; cb: FlushCallback }> = [];
  #needDrain = false;
  #dropped = 0;
  #notJson = 0;
  /** The first failure: lines from #failedAt on are not in the journal and never will be. */
  #failure: Error | null = null;
  #failedAt = Infinity;
  #ending = false;
  #closing = false;
  #closed = false;
  #endCallbacks: FlushCallback[] = [];
  readonly #open: OpenDestination;

  /** @internal Use journalDestination(), which opens the journal this one closes. */
  constructor(journal: Journal, options: JournalDestinationOptions) {
    super();
    this.path = journal.path;
    this.durability = journal.durability;
    this.#journal = journal;
    this.#maxPending = options.maxPendingBytes ?? DEFAULT_MAX_PENDING;
    this.#highWater = this.#maxPending / 2;
    this.#maxGroup = Math.min(options.maxBatchBytes ?? DEFAULT_MAX_BATCH, this.#maxPending);
    this.#maxLine = options.maxRecordBytes ?? DEFAULT_MAX_RECORD;
    this.#open = { path: this.path, unwritten: () => this.#taken - this.#written + (this.#lines.restLength > 0 ? 1 : 0) };
    unclosed.add(this.#open);
    if (!exitListening) {
      exitListening = true;
      process.on('exit', reportAtExit);
    }
  }

  /** Lines write() did not take: past maxPendingBytes, after a failure, or after end(). Their text also went to a 'drop' event. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Lines that were not JSON, stored as JSON strings. */
  get notJson(): number {
    return this.#notJson;
  }

  get writable(): boolean {
    return !this.#ending && this.#failure === null;
  }

  get writableEnded(): boolean {
    return this.#ending;
  }

  get writableNeedDrain(): boolean {
    return this.#needDrain;
  }

  /** True once the journal is closed, after end() or a failure. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Takes what pino wrote: one line or several, each ending in "\n"; the start of a line waits for
   * its end. Returns false once the lines not yet written reach half of maxPendingBytes, or when a
   * line was dropped; 'drain' follows once they are below it again.
   */
  write(chunk: string | Uint8Array): boolean {
    if (this.#ending || this.#failure !== null) {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      let lines = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', nl + 1)) lines++;
      this.#dropped += lines;
      this.emit('drop', text);
      this.#needDrain = true;
      return false;
    }
    let dropped = 0;
    let droppedText = '';
    this.#lines.push(chunk, (text) => {
      if (this.#take(text)) return;
      dropped++;
      droppedText += `${text}\n`;
    });
    // Never more than one record's worth of a line whose end has not come.
    if (this.#lines.restLength > this.#maxLine) {
      const rest = this.#lines.takeRest();
      this.#fail(this.#tooLarge(Buffer.byteLength(rest)), this.#taken + 1);
      dropped++;
      droppedText += rest;
    }
    if (dropped > 0) {
      this.#dropped += dropped;
      this.emit('drop', droppedText);
    }
    this.#schedule();
    const ok = dropped === 0 && this.#pendingCost < this.#highWater;
    if (!ok) this.#needDrain = true;
    return ok;
  }

  /**
   * Calls back once every line written before the call is durable, whatever the durability (with
   * 'interval' and 'unsafe-nosync' it runs an fdatasync), or with the error that keeps one of them
   * out of the journal. pino's `logger.flush(cb)` calls it. The start of a line whose "\n" has not
   * been written is not waited for.
   */
  flush(cb?: FlushCallback): void {
    // No default parameter: thread-stream calls a flush that declares no parameter without a callback.
    const done: FlushCallback = typeof cb === 'function' ? cb : () => {};
    // A line written after the failure was dropped: it is one of those written before this call.
    if (this.#failure !== null) return void process.nextTick(done, this.#failure);
    this.#flushes.push({ upTo: this.#taken, cb: done });
    this.#settleFlushes();
  }

  /**
   * Appends what is pending, an unfinished last line too, makes every line durable whatever the
   * durability, and closes the journal; then emits 'finish' and 'close'. `cb` is called after the
   * close, with the failure if there was one. Writes after end() are dropped.
   */
  end(chunk?: string | Uint8Array | FlushCallback, cb?: FlushCallback): this {
    if (typeof chunk === 'function') cb = chunk;
    else if (chunk !== undefined && chunk !== null) this.write(chunk);
    if (typeof cb === 'function') {
      if (this.#closed) process.nextTick(cb, this.#failure ?? undefined);
      else this.#endCallbacks.push(cb);
    }
    if (this.#ending) return this;
    const rest = this.#lines.takeRest();
    if (rest !== '' && !this.#take(rest)) {
      this.#dropped++;
      this.emit('drop', rest);
    }
    this.#ending = true;
    this.#schedule();
    return this;
  }

  /** Takes one line into the waiting group; false if it is dropped. */
  #take(text: string): boolean {
    if (this.#failure !== null || this.#ending) return false;
    const line = lineValue(text);
    if (line.cost > this.#maxLine) {
      this.#fail(this.#tooLarge(line.cost - RECORD_OVERHEAD), this.#taken + 1);
      return false;
    }
    if (this.#pendingCost + line.cost > this.#maxPending) return false;
    if (typeof line.value === 'string') this.#notJson++;
    this.#waiting.push(line);
    this.#pendingCost += line.cost;
    this.#taken++;
    return true;
  }

  #tooLarge(bytes: number): JournalError {
    return new JournalError(ErrorCode.RECORD_TOO_LARGE, `${this.path}: a line of ${bytes} bytes does not fit in a record of maxRecordBytes (${this.#maxLine})`, {
      path: this.path,
    });
  }

  #schedule(): void {
    if (this.#pumpQueued || this.#appending) return;
    this.#pumpQueued = true;
    // A microtask, so that the lines of one synchronous run of logging calls go as one group.
    queueMicrotask(() => {
      this.#pumpQueued = false;
      this.#pump();
    });
  }

  /** Appends the waiting lines as one group, if none is being appended; the lines that come meanwhile form the next. */
  #pump(): void {
    if (this.#appending) return;
    if (this.#waiting.length === 0) return this.#closeIfDone();
    const waiting = this.#waiting;
    let n = 0;
    let cost = 0;
    while (n < waiting.length && (n === 0 || cost + waiting[n]!.cost <= this.#maxGroup)) cost += waiting[n++]!.cost;
    this.#waiting = n === waiting.length ? [] : waiting.slice(n);
    const values = new Array<unknown>(n);
    for (let i = 0; i < n; i++) values[i] = waiting[i]!.value;
    this.#appending = true;
    this.#journal.appendMany(values).then(() => {
      this.#written += n;
      if (this.durability === 'always') this.#durable = this.#written;
    }, (err: unknown) => {
      // A failed write or sync fails the journal: no line after the last durable one will be in it.
      this.#fail(asError(err), this.#durable + 1);
    }).then(() => {
      this.#appending = false;
      this.#pendingCost -= cost;
      this.#settleFlushes();
      if (this.#needDrain && this.#failure === null && this.#pendingCost < this.#highWater) {
        this.#needDrain = false;
        process.nextTick(() => this.emit('drain'));
      }
      this.#pump();
    });
  }

  /** Calls back the flushes whose lines are durable, and those a failure concerns; syncs for the rest if they are written. */
  #settleFlushes(): void {
    const f = this.#flushes;
    let ok = 0;
    while (ok < f.length && f[ok]!.upTo <= this.#durable) ok++;
    for (const { cb } of f.splice(0, ok)) process.nextTick(cb);
    if (this.#failure !== null) {
      let from = f.length;
      while (from > 0 && f[from - 1]!.upTo >= this.#failedAt) from--;
      for (const { cb } of f.splice(from)) process.nextTick(cb, this.#failure);
    }
    // While closing, the close's own sync makes the lines durable, then settles what waits.
    if (f.length > 0 && f[0]!.upTo <= this.#written && !this.#syncing && !this.#closing) this.#sync();
  }

  /** With 'interval' and 'unsafe-nosync': one fdatasync for every flush whose lines are written. */
  #sync(): void {
    const to = this.#written;
    this.#syncing = true;
    this.#journal.flush().then(() => {
      this.#durable = Math.max(this.#durable, to);
    }, (err: unknown) => {
      this.#fail(asError(err), this.#durable + 1);
    }).then(() => {
      this.#syncing = false;
      this.#settleFlushes();
      this.#closeIfDone();
    });
  }

  /** Records the first failure (and emits it), and lets go of the waiting lines it keeps out of the journal. */
  #fail(err: Error, at: number): void {
    this.#failedAt = Math.min(this.#failedAt, at);
    if (this.#failure === null) {
      this.#failure = err;
      // Emitted as streams emit errors: on the next tick; with no listener, it ends the process.
      process.nextTick(() => this.emit('error', err));
    }
    const firstWaiting = this.#taken - this.#waiting.length + 1;
    const keep = Math.max(0, this.#failedAt - firstWaiting);
    if (keep < this.#waiting.length) {
      for (let i = keep; i < this.#waiting.length; i++) this.#pendingCost -= this.#waiting[i]!.cost;
      this.#waiting.length = keep;
    }
  }

  /** After end() or a failure, once nothing is being appended or synced: closes the journal. */
  #closeIfDone(): void {
    if (this.#closing || this.#appending || this.#syncing || this.#waiting.length > 0) return;
    if (!this.#ending && this.#failure === null) return;
    this.#closing = true;
    void this.#close();
  }

  async #close(): Promise<void> {
    // Durable in every mode: 'always' has every written line durable already.
    if (this.#written > this.#durable) {
      const to = this.#written;
      try {
        await this.#journal.flush();
        this.#durable = to;
      } catch (err) {
        this.#fail(asError(err), this.#durable + 1);
      }
    }
    try {
      await this.#journal.close();
    } catch (err) {
      // No line is lost by it, but a close that fails (a seal not written, EIO) is reported all the same.
      this.#fail(asError(err), this.#durable + 1);
    }
    this.#closed = true;
    unclosed.delete(this.#open);
    this.#settleFlushes();
    process.nextTick(() => {
      if (this.#failure === null) this.emit('finish');
      this.emit('close');
      for (const cb of this.#endCallbacks.splice(0)) cb(this.#failure ?? undefined);
    });
  }
}

/**
 * At exit the event loop is gone, and lines not yet appended can no longer be: say so on stderr
 * rather than lose them without a word (docs/api.md, "Exit").
 */
function reportAtExit(): void {
  for (const d of unclosed) {
    const n = d.unwritten();
    if (n === 0) continue;
    try {
      fs.writeSync(2, `jsonl-journal/pino: the process exited before ${n} line(s) logged to ${d.path} were written; wait for logger.flush(cb) or end() before process.exit()\n`);
    } catch {
      // Without a stderr there is nobody left to tell.
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
