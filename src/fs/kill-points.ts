/**
 * A test hook, inert unless armed: JSONL_JOURNAL_KILL_POINT=<name>[:<n>] makes the process SIGKILL
 * itself the n-th time it reaches the named step (docs/design.md, "The fs seam and kill points").
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
