/**
 * Small tools for tests: temp dirs, byte-level damage (in the manner of LevelDB's log_test:
 * flip a byte, cut the file, append junk), a counter over the journal's fs calls, and child
 * processes that append until they are killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, expect } from 'vitest';
import { io } from '../src/fs/io.js';
import { readJournal, type JournalRecord } from '../src/index.js';

const dirs: string[] = [];
const restores: Array<() => void> = [];

afterEach(() => {
  while (restores.length > 0) restores.pop()!();
  while (dirs.length > 0) fs.rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** A fresh directory, removed after the test. */
export function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'jj-test-'));
  dirs.push(d);
  return d;
}

/** A path for a journal in a fresh directory. */
export function tmpJournal(name = 'events.jsonl'): string {
  return path.join(tmpDir(), name);
}

export const bytesOf = (file: string): Buffer => fs.readFileSync(file);

export function flipByte(file: string, offset: number, mask = 0x01): void {
  const b = fs.readFileSync(file);
  b[offset] = b[offset]! ^ mask;
  fs.writeFileSync(file, b);
}

export function truncateTo(file: string, size: number): void {
  fs.truncateSync(file, size);
}

export function appendBytes(file: string, bytes: Buffer | string): void {
  fs.appendFileSync(file, bytes);
}

/**
 * Cuts the seal a clean close (or an idle writer) put at the end, if there is one: the file is then
 * as a crash after the last batch's fdatasync leaves it. Returns the new size.
 */
export function unseal(file: string): number {
  const b = fs.readFileSync(file);
  const start = b.lastIndexOf(0x0a, b.length - 2) + 1;
  if (/^[0-9a-f]{8} \{"seal":\d+\}\n$/.test(b.subarray(start).toString('latin1'))) fs.truncateSync(file, start);
  return fs.statSync(file).size;
}

export async function readAll(file: string, opts?: Parameters<typeof readJournal>[1]): Promise<JournalRecord[]> {
  const out: JournalRecord[] = [];
  for await (const r of readJournal(file, opts)) out.push(r);
  return out;
}

type IoName = keyof typeof io;

/** Replaces one fs call of the journal for the rest of the test. */
export function hookIo<K extends IoName>(name: K, replacement: (original: (typeof io)[K]) => (typeof io)[K]): void {
  const original = io[name];
  io[name] = replacement(original);
  restores.push(() => {
    io[name] = original;
  });
}

/** Counts calls of one fs function from now on. */
export function countIo(name: IoName): { readonly n: number } {
  const counter = { n: 0 };
  hookIo(name, (orig) => ((...args: unknown[]) => {
    counter.n++;
    return (orig as (...a: unknown[]) => unknown)(...args);
  }) as never);
  return counter;
}

/**
 * Counts the calls of io.read from now on and the bytes they read, and those of io.readSync too
 * when `sync` is set. The counts may be set back to 0 between reads.
 */
export function countReads(opts: { sync?: boolean } = {}): { reads: number; bytes: number } {
  const counter = { reads: 0, bytes: 0 };
  hookIo('read', (orig) => (async (...args: Parameters<typeof orig>) => {
    counter.reads++;
    const n = await orig(...args);
    counter.bytes += n;
    return n;
  }) as typeof orig);
  if (opts.sync) {
    hookIo('readSync', (orig) => ((...args: Parameters<typeof orig>) => {
      counter.reads++;
      const n = orig(...args);
      counter.bytes += n;
      return n;
    }) as typeof orig);
  }
  return counter;
}

/** An errno-style error, as fs calls fail. */
export function sysError(code: string, syscall = 'write'): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: injected failure, ${syscall}`);
  e.code = code;
  e.syscall = syscall;
  return e;
}

const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');

/**
 * A child process running a fixture script (against the built package). Lines it prints on stdout
 * are collected; `acked` parses lines of the form "ack <seq> ..." into the acknowledged seqs.
 */
export class Child {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: Array<{ test: (l: string) => boolean; resolve: () => void }> = [];
  stderr = '';

  constructor(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(process.execPath, [path.join(FIXTURES, script), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      this.lines.push(l);
      this.#waiters = this.#waiters.filter((w) => (w.test(l) ? (w.resolve(), false) : true));
    });
    this.proc.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves when a line matching `test` has been printed (or already was). */
  waitFor(test: (line: string) => boolean): Promise<void> {
    if (this.lines.some(test)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<unknown> {
    this.proc.kill(signal);
    return this.exited;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Rewrites the journal the way a compactor does (new header generation, same records, temp file,
 * fsync, rename over the journal, fsync the directory) while holding the writers' lock on the old
 * file. Returns an fd of the old file, still open, so a test can look at the replaced inode.
 */
export async function replaceLikeCompactor(file: string, beforeRename?: () => Promise<void>): Promise<number> {
  const { encodeBatch, prepareRecord } = await import('../src/format/batch.js');
  const { encodeHeader } = await import('../src/format/header.js');
  const { readHeader } = await import('../src/scan/open.js');
  const { flockAddon } = await import('../src/fs/flock.js');
  const oldFd = fs.openSync(file, 'r+');
  while (!flockAddon().tryLock(oldFd, false)) await sleep(2);
  const { header } = await readHeader(oldFd, file);
  const recs = await readAll(file);
  const head = encodeHeader({ ...header, generation: header.generation + 1, maxSeq: Math.max(header.maxSeq, recs.at(-1)?.seq ?? 0) });
  // Keep the original seqs (compaction never renumbers): one batch per record.
  const parts = [head];
  let pos = head.length;
  for (const r of recs) {
    const b = encodeBatch([prepareRecord(r.data, r.ts)], r.seq, pos).bytes;
    parts.push(b);
    pos += b.length;
  }
  const tmp = `${file}.replace.tmp`;
  fs.writeFileSync(tmp, Buffer.concat(parts));
  const tfd = fs.openSync(tmp, 'r');
  fs.fsyncSync(tfd);
  fs.closeSync(tfd);
  await beforeRename?.();
  fs.renameSync(tmp, file);
  const dfd = fs.openSync(path.dirname(file), 'r');
  fs.fsyncSync(dfd);
  fs.closeSync(dfd);
  flockAddon().unlock(oldFd);
  return oldFd;
}

/** tag -> seq of every record a child reported as acknowledged. */
export function acked(children: Child[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of children) {
    for (const l of c.lines) {
      const [kind, seq, tag] = l.split(' ');
      if (kind === 'ack') m.set(tag!, Number(seq));
    }
  }
  return m;
}

/** Every acknowledged record present exactly once under its seq, and each producer's records in order. */
export async function checkJournal(file: string, ack: Map<string, number>): Promise<void> {
  const recs = await readAll(file);
  const seqs = recs.map((r) => r.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(seqs.length);
  const byTag = new Map<string, number>();
  for (const r of recs) {
    const tag = (r.data as { tag: string }).tag;
    expect(byTag.has(tag)).toBe(false);
    byTag.set(tag, r.seq);
  }
  for (const [tag, seq] of ack) expect(byTag.get(tag)).toBe(seq);
  const lastK = new Map<string, number>();
  for (const r of recs) {
    const [w, p, k] = (r.data as { tag: string }).tag.split('.');
    const key = `${w}.${p}`;
    expect(Number(k)).toBeGreaterThan(lastK.get(key) ?? -1);
    lastK.set(key, Number(k));
  }
}

/** What a run of the command printed, and its exit code. */
export interface CommandRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built `journal` command. */
export const JOURNAL_BIN = path.join(path.dirname(FIXTURES), '..', 'dist/cli/main.js');

/** Runs the built `journal` command (or, with `bin`, a copy of it), with `input` on its stdin and `node` flags before it. */
export function runJournal(
  args: string[],
  opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; uid?: number; bin?: string; execPath?: string; node?: string[]; spawned?: (pid: number) => void } = {},
): Promise<CommandRun> {
  return new Promise((resolve) => {
    const bin = opts.bin ?? JOURNAL_BIN;
    const c = spawn(opts.execPath ?? process.execPath, [...(opts.node ?? []), bin, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid, cwd: path.dirname(bin) } : {}),
    });
    opts.spawned?.(c.pid!);
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.stdin.end(opts.input ?? '');
    // A command that could not start (EACCES on node itself) says so instead of hanging the test.
    c.on('error', (err) => resolve({ code: null, stdout, stderr: `${stderr}cannot run: ${err.message}` }));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
