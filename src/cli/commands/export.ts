/** journal export <file> [--from-seq N]: the records' data as plain JSON Lines, for other tools. */
import { readJournal } from 'jsonl-journal/read';
import { intOption, onePath, report, type Command } from '../command.js';
import { Exit, Out } from '../term.js';

export const exportCommand: Command = {
  name: 'export',
  help: `Usage: journal export <file> [--from-seq N]

Writes each committed record's data to stdout as one line of JSON, in seq order, exactly as stored
(numbers digit for digit): plain JSON Lines without checksums, seqs or times, for other tools. A
line that journal import stored comes out as it was in the imported file, unless that line had
whitespace outside strings. A torn tail ends the output quietly; damage before durable data is an
error (exit 2) after the records before it.

Options:
  --from-seq N   start at the first record with seq >= N (found by bisection, not by scanning)

Exit codes: 0 exported (or the reader of the pipe left); 2 damage before the end; 3 could not
read; 64 usage error.`,
  options: { 'from-seq': { type: 'string' } },
  async run(values, positionals) {
    const file = onePath(positionals);
    const fromSeq = intOption(values, 'from-seq');
    const out = new Out();
    try {
      // Data as the JSON text stored, written as it is: numbers digit for digit, as imported.
      for await (const r of readJournal(file, { fromSeq, data: 'text' })) {
        await out.line(r.data);
        // The reader left (export | head): stop quietly, as cat does.
        if (out.closed) break;
      }
      await out.flush();
      return Exit.OK;
    } catch (err) {
      await out.flush();
      return report(err);
    }
  },
};
