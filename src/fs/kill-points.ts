/**
 * A test hook, inert unless armed: named kill points for crash tests, in the manner of RocksDB's
 * TEST_KILL_RANDOM. With
 * JSONL_JOURNAL_KILL_POINT=<name>[:<n>] in the environment, the process kills itself with SIGKILL
 * the n-th time (default: the first) it reaches the point named. Unset, every check is one
 * comparison against undefined.
 *
 * Points: before-write, mid-write (half the batch is on disk), after-write, after-sync, before-ack,
 * and the steps of compaction: compact-temp-created, compact-copying (after each write to the temp),
 * compact-temp-written, compact-temp-synced, compact-renamed, compact-dir-synced.
 */
const spec = process.env.JSONL_JOURNAL_KILL_POINT;
const [armedName, armedCount] = spec ? [spec.split(':')[0], Number(spec.split(':')[1] ?? 1)] : [undefined, 0];
let hits = 0;

/** True when kill points are armed at all (lets the writer split its write for mid-write). */
export const killPointsArmed = armedName !== undefined;

export function killPoint(name: string): void {
  if (armedName === undefined || name !== armedName) return;
  if (++hits === armedCount) process.kill(process.pid, 'SIGKILL');
}
