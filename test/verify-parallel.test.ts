/**
 * verify of a journal of 64 MiB or more checks its second half on a worker thread. The worker runs
 * the built module, so these tests run it in a child process from dist/. Whatever the file holds,
 * the report must be the one a single thread gives, line numbers included.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal } from '../src/index.js';
import { flipByte, tmpJournal } from './helpers.js';

const SCRIPT = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'verify-both.mjs');
let dir: string;
let base: string;
let size: number;

beforeAll(async () => {
  // Kept for the whole file (tmpJournal's directories go after each test).
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jj-verify-'));
  base = path.join(dir, 'big.jsonl');
  // Durable batches: each commit mark vouches for what came before it, so damage is corruption, not a torn tail.
  const j = await Journal.open(base);
  const batch = Array.from({ length: 2000 }, (_, i) => ({ type: 'order.created', id: i, user: `u${i % 97}`, amount: i / 4 }));
  while (fs.statSync(base).size < 72 * 1024 * 1024) await j.appendMany(batch);
  await j.close();
  size = fs.statSync(base).size;
}, 120_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function both(file: string, opts: object = {}) {
  return JSON.parse(execFileSync(process.execPath, [SCRIPT, file, JSON.stringify(opts)], { encoding: 'utf8', maxBuffer: 64 << 20 })) as {
    parallel: { ok: boolean; records: number; tornTail: unknown; corrupt: Array<{ offset: number; line: number }> };
    single: unknown;
    workers: number;
  };
}

function copy(): string {
  const file = tmpJournal('copy.jsonl');
  fs.copyFileSync(base, file);
  return file;
}

/** The start of the line that holds `offset`. */
function lineStart(file: string, offset: number): number {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(4096);
  fs.readSync(fd, buf, 0, buf.length, offset - buf.length);
  fs.closeSync(fd);
  return offset - buf.length + buf.lastIndexOf(0x0a) + 1;
}

describe('verify on two threads', () => {
  it('a clean journal: the same report as one thread, from a worker checking the second half', () => {
    const r = both(base);
    expect(r.workers).toBe(1);
    expect(r.parallel).toEqual(r.single);
    expect(r.parallel.ok).toBe(true);
  });

  it('a torn tail at the end: the same report, the tail found by the worker', () => {
    const file = copy();
    fs.appendFileSync(file, '0123abcd {"seq":99999999,"ts":1,"da');
    const r = both(file);
    expect(r.workers).toBe(1);
    expect(r.parallel).toEqual(r.single);
    expect(r.parallel.tornTail).toEqual({ offset: size, bytes: 35, foreign: 0 });
  });

  it.each([
    ['in the second half', [0.8]],
    ['in the first half', [0.2]],
    ['in both halves', [0.3, 0.7]],
    ['near the middle', [0.52, 0.53]],
  ])('damage %s: the same report, line numbers and all', (_, where) => {
    const file = copy();
    const hit = where.map((w) => lineStart(file, Math.floor(size * w)) + 20);
    for (const at of hit) flipByte(file, at);
    const r = both(file);
    expect(r.parallel).toEqual(r.single);
    expect(r.parallel.corrupt.map((d) => d.offset)).toEqual(hit.map((at) => lineStart(file, at)));
    expect(r.parallel.corrupt.every((d) => d.line > 1)).toBe(true);
  }, 60_000);

  it('deep: the same report', () => {
    const r = both(base, { deep: true });
    expect(r.workers).toBe(1);
    expect(r.parallel).toEqual(r.single);
  }, 60_000);
});
