/**
 * Worker threads beside the main thread of the same process: readers, and writers that each load
 * the flock addon (src/native/flock.c) in their own thread, which fs-ext could not survive.
 */
import { describe, expect, it } from 'vitest';
import { Child, tmpJournal } from './helpers.js';

describe('worker threads', () => {
  it('readJournal and follow run in worker threads, one after another and at once, while the main thread appends', async () => {
    const child = new Child('thread-readers.mjs', [tmpJournal()]);
    const { code, signal } = await child.exited;
    expect({ code, signal, stderr: child.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(child.lines).toEqual(['ok 500 1000 1500 2000 2500 3000']);
  }, 60_000);

  it('writers on the main thread and in two workers append to one journal at once; workers that lock and exit come and go', async () => {
    const child = new Child('thread-writers.mjs', [tmpJournal()]);
    const { code, signal } = await child.exited;
    expect({ code, signal, stderr: child.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    // 3 writers of 1,500, 200 more from the main thread, 20 brief workers of one record each.
    expect(child.lines).toEqual(['ok 4720']);
  }, 60_000);

  it('a worker terminated while it waits for the lock goes at once, and the grant that comes for it later is given back', async () => {
    const child = new Child('thread-give-up.mjs', [tmpJournal()]);
    const { code, signal } = await child.exited;
    expect({ code, signal, stderr: child.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(child.lines).toEqual(['ok']);
  }, 60_000);
});
