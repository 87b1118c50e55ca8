/** journal cat <file> [--from-seq N] [--follow] [--data]: records as JSON lines, for jq and friends. */
import { follow, readJournal } from 'jsonl-journal';
import { interruption, intOption, onePath, report, type Command } from '../command.js';
import { PipeReaderWatch } from '../pipe-reader.js';
import { Exit, Out } from '../term.js';

export const catCommand: Command = {
  name: 'cat',
  summary: 'print records as JSON lines (pipe to jq); --follow keeps printing new ones',
  help: `Usage: journal cat <file> [--from-seq N] [--follow] [--data]

Prints each committed record as one line of JSON, {"seq":N,"ts":MS,"data":...}, in seq order.
A torn tail ends the output quietly; damage before durable data is an error (exit 2).

Options:
  --from-seq N   start at the first record with seq >= N (found by bisection, not by scanning)
  -f, --follow   after the last record, wait for new ones and print them as they are appended,
                 until interrupted (Ctrl-C or a closed pipe ends it with exit 0); a journal
                 that does not exist yet is waited for
  --data         print only each record's data

Exit codes: 0 done (or interrupted); 2 damage before the end; 3 could not read; 64 usage error.`,
  options: { 'from-seq': { type: 'string' }, follow: { type: 'boolean', short: 'f' }, data: { type: 'boolean' } },
  async run(values, positionals) {
    const file = onePath(positionals);
    const fromSeq = intOption(values, 'from-seq');
    const dataOnly = values.data === true;
    const out = new Out();
    const stop = interruption();
    process.stdout.once('close', stop.abort);
    // An idle follower writes nothing, so it would not see its reader go away (`cat -f x | head`).
    const watch = values.follow === true ? PipeReaderWatch.forStdout() : null;
    const watching = watch === null ? undefined : setInterval(() => {
      if (watch.gone()) stop.abort();
    }, 200);
    // Data as the JSON text stored: printed exactly, numbers digit for digit, and never parsed.
    const opts = { fromSeq, signal: stop.signal, data: 'text' as const };
    const records = values.follow === true ? follow(file, opts) : readJournal(file, opts);
    try {
      for await (const r of records) {
        const data = r.data as string;
        await out.line(dataOnly ? data : `{"seq":${r.seq},"ts":${r.ts},"data":${data}}`);
        if (out.closed) break;
        // While following, print each record as it comes instead of waiting for 64 KiB.
        if (values.follow === true) await out.flush();
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
