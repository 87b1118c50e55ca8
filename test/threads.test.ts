/**
 * Readers in worker threads beside a writer in the main thread of the same process. The flock
 * addon is loaded only by what takes locks: loaded in a second thread it can crash the process
 * (docs/api.md, "Threads"), so readers that never lock must not load it.
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
});
