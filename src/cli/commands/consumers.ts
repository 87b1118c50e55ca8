/** journal consumers <file> [--reset NAME --to T | --delete NAME] [--force] [--json]: list, reset and delete named consumers. */
import { Consumer, ErrorCode, isJournalError, listConsumers, type ConsumerInfo, type SeekTarget } from 'jsonl-journal';
import { onePath, report, UsageError, type Command } from '../command.js';
import { count, Exit, red } from '../term.js';
import { parseTime } from '../time.js';

export const consumersCommand: Command = {
  name: 'consumers',
  help: `Usage: journal consumers <file> [--json]
       journal consumers <file> --reset NAME --to earliest|latest|SEQ|TIME [--force] [--json]
       journal consumers <file> --delete NAME [--force] [--json]

Lists every named consumer (see Consumer in docs/api.md): its committed seq, how many seqs the
journal has assigned past it (lag), when it was last active, and its state: live (open in a
running process), stopped, or expired (stopped for longer than its expireAfterMs: compaction no
longer keeps records for it). Groups say so.

Options:
  --reset NAME     move consumer NAME so that it reads --to next
  --to T           earliest: the oldest record kept; latest: only records appended from now on;
                   SEQ: the record with that seq (as Kafka's --to-offset: --to 5 reads seq 5 next);
                   TIME: the first record appended at or after it (an ISO 8601 date, or a time
                   ago: 2h; as Kafka's --to-datetime)
  --delete NAME    forget consumer NAME: it no longer holds records back from compaction
  --force          reset or delete even while the consumer runs; its later commits are refused
                   (CONSUMER_RESET) and no longer count
  --json           print the result as JSON

A target the journal cannot give (a seq past its end, or below what retention kept) is a usage
error.

Exit codes: 0 done; 3 could not (no such consumer, the consumer is running, I/O error ...);
64 usage error.`,
  options: {
    json: { type: 'boolean' }, reset: { type: 'string' }, to: { type: 'string' }, delete: { type: 'string' }, force: { type: 'boolean' },
  },
  async run(values, positionals) {
    const file = onePath(positionals);
    const json = values.json === true;
    const force = values.force === true;
    const reset = values.reset as string | undefined;
    const del = values.delete as string | undefined;
    if (reset !== undefined && del !== undefined) throw new UsageError('--reset and --delete cannot be used together');
    if ((reset === undefined) !== (values.to === undefined)) throw new UsageError(reset === undefined ? '--to needs --reset NAME' : '--reset needs --to earliest|latest|SEQ|TIME');
    if (force && reset === undefined && del === undefined) throw new UsageError('--force goes with --reset or --delete');
    try {
      if (reset !== undefined) {
        const to = target(values.to as string);
        let r;
        try {
          r = await Consumer.reset(file, reset, to, { force });
        } catch (err) {
          // A target the journal cannot honour (past its end, below what retention kept) is a bad argument.
          if (err instanceof RangeError) throw new UsageError(err.message);
          throw err;
        }
        if (json) process.stdout.write(`${JSON.stringify({ file, ...r, next: r.seq + 1 })}\n`);
        else process.stdout.write(`${file}: consumer ${r.name} reset from seq ${count(r.previous)} to seq ${count(r.seq)}: it reads seq ${count(r.seq + 1)} next\n`);
        if (r.wasLive) fenced(r.name);
        return Exit.OK;
      }
      if (del !== undefined) {
        const r = await Consumer.delete(file, del, { force });
        if (json) process.stdout.write(`${JSON.stringify({ file, ...r })}\n`);
        else process.stdout.write(`${file}: consumer ${r.name} deleted (it was at seq ${count(r.seq)})\n`);
        if (r.wasLive) fenced(r.name);
        return Exit.OK;
      }
      const list = await listConsumers(file);
      if (json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else printTable(file, list);
      return Exit.OK;
    } catch (err) {
      if (isJournalError(err, ErrorCode.CONSUMER_BUSY)) {
        const name = reset ?? del;
        process.stderr.write(`${red(process.stderr, 'journal:')} ${file}: consumer ${name} is open in a running process: stop it first, or pass --force (its later commits are then refused)\n`);
        return Exit.FAILED;
      }
      if (err instanceof UsageError) throw err;
      return report(err);
    }
  },
};

/** --to: earliest, latest, a positive seq, or a time (a number is a seq, never ms since the epoch). */
function target(v: string): SeekTarget {
  if (v === 'earliest' || v === 'latest') return v;
  const n = Number(v);
  if (/^\d+$/.test(v)) {
    if (Number.isSafeInteger(n) && n >= 1) return { seq: n };
    throw new UsageError(`--to takes a seq of 1 or more, not ${v}`);
  }
  try {
    return { ts: parseTime('to', v) };
  } catch {
    throw new UsageError(`--to takes earliest, latest, a seq (a positive integer) or a time (2026-12-07T14:00:00Z, 2h), not ${JSON.stringify(v)}`);
  }
}

function fenced(name: string): void {
  process.stderr.write(`${red(process.stderr, 'journal:')} consumer ${name} was running: its commits are refused from now on (CONSUMER_RESET)\n`);
}

function printTable(file: string, list: ConsumerInfo[]): void {
  if (list.length === 0) {
    process.stdout.write(`${file}: no consumers\n`);
    return;
  }
  const state = (c: ConsumerInfo) => {
    const s = c.live ? 'live' : c.expired ? `expired (${duration(c.expireAfterMs!)} without it)` : 'stopped';
    return c.group ? `${s}, group` : s;
  };
  const rows = [
    ['NAME', 'SEQ', 'LAG', 'LAST ACTIVE', 'STATE'],
    ...list.map((c) => [c.name, count(c.seq), count(c.lag), c.lastActive ? new Date(c.lastActive).toISOString() : '-', state(c)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const numeric = (i: number) => i === 1 || i === 2;
  for (const r of rows) process.stdout.write(`${r.map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()}\n`);
}

/** A span of time in the largest whole unit that fits: 90s, 36h, 7d. */
function duration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
