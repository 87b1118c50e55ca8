/**
 * What the command prints and how: colour and a progress bar only on a terminal, readable numbers,
 * and stdout writes that respect backpressure and end quietly when the reader goes (`cat | head`).
 */
import { once } from 'node:events';

/** Exit codes: stable, documented in docs/cli.md. */
export const Exit = {
  OK: 0,
  /** verify: only a torn tail (normal after a crash). */
  TORN: 1,
  /** verify, cat: damage before the end. */
  DAMAGED: 2,
  /** Could not do it: missing file, not a journal, I/O error, lock timeout ... */
  FAILED: 3,
  /** Bad usage: unknown command or option, missing argument. */
  USAGE: 64,
  /** append: a line of input is not valid JSON, or cannot be stored. */
  DATA: 65,
  /** A bug in jsonl-journal itself (EX_SOFTWARE): the stack is printed, to be reported. */
  BUG: 70,
} as const;

export class UsageError extends Error {}

const useColor = (stream: NodeJS.WriteStream) => stream.isTTY === true && !('NO_COLOR' in process.env);
const paint = (code: string) => (stream: NodeJS.WriteStream, s: string) => (useColor(stream) ? `\x1b[${code}m${s}\x1b[0m` : s);
export const red = paint('31');
export const yellow = paint('33');
export const green = paint('32');
export const bold = paint('1');
export const dim = paint('2');

export const count = (n: number): string => n.toLocaleString('en-US');
/** `n` and a noun, plural unless n is 1: "1 record", "2 records". */
export const counted = (n: number, noun: string): string => `${count(n)} ${noun}${n === 1 ? '' : 's'}`;

export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${units[u]}`;
}

/** Work on less than this is not worth a bar, unless it takes longer than SLOW_MS. */
const SMALL_BYTES = 1024 * 1024;
const SLOW_MS = 500;

/**
 * A one-line progress bar with rate and ETA, redrawn at most ten times a second, on stderr only if
 * it is a terminal, and only for work that is large or slow: a small file would only flicker.
 */
export class Progress {
  readonly #label: string;
  readonly #on: boolean;
  readonly #unit: (n: number) => string;
  readonly #t0 = performance.now();
  #last = -1;

  /** `unit` formats the amounts: bytes by default, or for instance records. */
  constructor(label: string, enabled: boolean, unit: (n: number) => string = bytes) {
    this.#label = label;
    this.#on = enabled && process.stderr.isTTY === true;
    this.#unit = unit;
  }

  update(done: number, total: number): void {
    if (!this.#on) return;
    const now = performance.now();
    if (this.#last < 0 && total < SMALL_BYTES && now - this.#t0 < SLOW_MS) return;
    if (this.#last >= 0 && now - this.#last < 100) return;
    this.#last = now;
    const secs = (now - this.#t0) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    const width = 24;
    const fill = Math.round((pct / 100) * width);
    const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
    const bar = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}]`;
    const u = this.#unit;
    process.stderr.write(`\r${this.#label} ${bar} ${String(pct).padStart(3)}% ${u(done)}/${u(total)} ${u(Math.round(rate))}/s ETA ${eta.toFixed(0)}s\x1b[K`);
  }

  finish(): void {
    if (this.#on && this.#last >= 0) process.stderr.write('\r\x1b[K');
  }
}

/**
 * Buffered stdout that waits for 'drain' instead of buffering without bound. When the reader
 * has gone away (EPIPE), `closed` turns true and writes are dropped: the caller stops and exits 0.
 */
export class Out {
  #buf = '';
  closed = false;

  constructor() {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.closed = true;
      else throw err;
    });
  }

  async line(s: string): Promise<void> {
    this.#buf += `${s}\n`;
    if (this.#buf.length >= 64 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#buf === '' || this.closed) return;
    const chunk = this.#buf;
    this.#buf = '';
    let more: boolean;
    try {
      more = process.stdout.write(chunk);
    } catch (err) {
      // Writes to a pipe are synchronous on Linux: a closed pipe can throw here instead of emitting.
      if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
      this.closed = true;
      return;
    }
    if (more) return;
    // Both listeners go when either fires: a slow reader makes a wait per flush, and listeners
    // left behind would pile up.
    const waited = new AbortController();
    try {
      await Promise.race([once(process.stdout, 'drain', { signal: waited.signal }), once(process.stdout, 'close', { signal: waited.signal })]);
    } catch (err) {
      // once() rejects when the stream emits 'error' while waiting, as it does for a closed pipe.
      if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
      this.closed = true;
    } finally {
      waited.abort();
    }
  }
}
