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
import { afterEach } from 'vitest';
import { io } from '../src/io.js';
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
