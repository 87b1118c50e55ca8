/** journal cat <file> [--from-seq N] [--since T] [--until T] [--last N] [--limit N] [--follow] [--data]: records as JSON lines. */
import { follow, readJournal, type FollowOptions, type ReadOptions } from 'jsonl-journal/read';
import { interruption, intOption, onePath, report, type Command } from '../command.js';
import { PipeReaderWatch } from '../pipe-reader.js';
import { Exit, Out, UsageError } from '../term.js';
import { parseTime } from '../time.js';

export const catCommand: Command = {
  name: 'cat',
  help: `Usage: journal cat <file> [--from-seq N] [--since T] [--until T] [-n|--last N] [--limit N]
                   [-f|--follow] [--data]

Prints each committed record as one line of JSON, {"seq":N,"ts":MS,"data":...}, in seq order, its
data exactly as stored. A torn tail ends the output quietly; damage before durable data is an
error (exit 2).

Options:
  --from-seq N   start at the first record with seq >= N (found by bisection, not by scanning)
  --since T      only records appended at or after T (found by bisection)
  --until T      only records appended at or before T
  -n, --last N   only the last N records (of those the other options select), read from the end:
                 it costs the same on a journal of any size
  --limit N      stop after N records
  -f, --follow   after the last record, wait for new ones and print them as they are appended,
                 until interrupted (Ctrl-C or a closed pipe ends it with exit 0); a journal
                 that does not exist yet is waited for. With --last N, like tail -n N -f
                 (-n 0 -f: only what is appended from then on)
  --data         print only each record's data

A time T is an ISO 8601 date (2026-12-07T14:00:00Z; without a zone, local time: 2026-12-07 is
local midnight), ms since the epoch, now, or a time ago: 30s, 10m, 2h, 7d, 1w (or, as journalctl
writes it, -10m or 10m ago).

Exit codes: 0 done (or interrupted); 2 damage before the end; 3 could not read; 64 usage error.`,
  options: {
    'from-seq': { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    last: { type: 'string', short: 'n' },
    limit: { type: 'string' },
    follow: { type: 'boolean', short: 'f' },
    data: { type: 'boolean' },
  },
  async run(values, positionals) {
    const file = onePath(positionals);
    const fromSeq = intOption(values, 'from-seq');
    const last = intOption(values, 'last', 0);
    const limit = intOption(values, 'limit');
    const now = Date.now();
    const fromTs = typeof values.since === 'string' ? parseTime('since', values.since, now) : undefined;
    const untilTs = typeof values.until === 'string' ? parseTime('until', values.until, now) : undefined;
    const following = values.follow === true;
    if (following && untilTs !== undefined) throw new UsageError('--until ends the output, and --follow never does: use one of them');
    const dataOnly = values.data === true;
    const out = new Out();
    const stop = interruption();
    process.stdout.once('close', stop.abort);
    // An idle follower writes nothing, so it would not see its reader go away (`cat -f x | head`).
    const watch = following ? PipeReaderWatch.forStdout() : null;
    const watching = watch === null ? undefined : setInterval(() => {
      if (watch.gone()) stop.abort();
    }, 200);
    // Data as the JSON text stored: printed exactly, numbers digit for digit, and never parsed.
    const opts: ReadOptions & FollowOptions = {
      signal: stop.signal, data: 'text',
      ...(fromSeq !== undefined ? { fromSeq } : {}),
      ...(fromTs !== undefined ? { fromTs } : {}),
      ...(untilTs !== undefined ? { untilTs } : {}),
      ...(last !== undefined ? { last } : {}),
    };
    const records = following ? follow(file, opts) : readJournal(file, opts);
    let printed = 0;
    try {
      for await (const r of records) {
        const data = r.data as string;
        await out.line(dataOnly ? data : `{"seq":${r.seq},"ts":${r.ts},"data":${data}}`);
        if (out.closed || ++printed === limit) break;
        // While following, print each record as it comes instead of waiting for 64 KiB.
        if (following) await out.flush();
      }
      await out.flush();
      return Exit.OK;
    } catch (err) {
      await out.flush();
      return report(err);
    } finally {
      clearInterval(watching);
      stop.release();
    }
  },
};
