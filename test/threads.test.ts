/**
 * Worker threads beside the main thread of the same process: readers, and writers that each load
 * the flock addon (src/native/flock.c) in their own thread, which fs-ext could not survive. Each
 * case runs in a process of its own (a fixture), so a crash is a failed test, not a lost runner.
 */
import { describe, expect, it } from 'vitest';
import { Child, tmpJournal } from './helpers.js';

/** Runs a fixture on a new journal: it must exit 0, print nothing on stderr and print `lines`. */
async function runs(fixture: string, lines: string[]): Promise<void> {
  const child = new Child(fixture, [tmpJournal()]);
  const { code, signal } = await child.exited;
  expect({ code, signal, stderr: child.stderr, lines: child.lines }).toEqual({ code: 0, signal: null, stderr: '', lines });
}

describe('worker threads', () => {
  it('readJournal and follow run in worker threads, one after another and at once, while the main thread appends', async () => {
    await runs('thread-readers.mjs', ['ok 500 1000 1500 2000 2500 3000']);
  }, 60_000);

  it('writers on the main thread and in two workers append to one journal at once; workers that lock and exit come and go', async () => {
    // 3 writers of 1,500, 200 more from the main thread, 20 brief workers of one record each.
    await runs('thread-writers.mjs', ['ok 4720']);
  }, 60_000);

  it('a worker terminated while it waits for the lock goes at once, and the grant that comes for it later is given back', async () => {
    await runs('thread-give-up.mjs', ['ok']);
  }, 60_000);
});
