/** journal truncate <file> --to-seq N | --to-time T [--json]: drop everything after a point, keeping a copy of it. */
import { truncate } from 'jsonl-journal';
import { intOption, onePath, report, type Command } from '../command.js';
import { bytes, count, counted, Exit, Progress, UsageError } from '../term.js';
import { parseTime } from '../time.js';
import { describeCut } from './recovered.js';

export const truncateCommand: Command = {
  name: 'truncate',
  help: `Usage: journal truncate <file> --to-seq N | --to-time T [--json]

Drops every record after seq N, or after the last record appended at or before T (an ISO 8601
date, ms since the epoch, or a time ago such as 2h). What it drops is first copied, durably, to
<file>.truncated (or .truncated.1, .2 ...). The journal is rewritten by write-replace while the
writers' lock is held: appends wait until it is done. The seqs after the point are assigned again,
so named consumers past it fail with DIVERGED, as they should: what they processed is gone.
Nothing after the point: nothing is written.

Options:
  --to-seq N    keep the records up to seq N
  --to-time T   keep the records appended up to time T
  --json        print the result as JSON

Exit codes: 0 truncated (or nothing to drop); 2 damage in the journal (left untouched; see
journal repair); 3 could not truncate; 64 usage error.`,
  options: { 'to-seq': { type: 'string' }, 'to-time': { type: 'string' }, json: { type: 'boolean' } },
  async run(values, positionals) {
    const file = onePath(positionals);
    const toSeq = intOption(values, 'to-seq');
    const toTs = typeof values['to-time'] === 'string' ? parseTime('to-time', values['to-time']) : undefined;
    if ((toSeq === undefined) === (toTs === undefined)) throw new UsageError('give one of --to-seq N and --to-time T');
    const bar = new Progress(`truncating ${file}`, values.json !== true);
    let r;
    try {
      r = await truncate(file, toSeq !== undefined ? { toSeq } : { toTs: toTs! }, { onProgress: (p) => bar.update(p.bytesRead, p.bytesTotal) });
    } catch (err) {
      return report(err);
    } finally {
      bar.finish();
    }
    if (values.json === true) process.stdout.write(`${JSON.stringify({ file, ...r })}\n`);
    else if (r.savedTo === null) process.stdout.write(`${file}: nothing after seq ${count(r.lastSeq)} to drop; nothing was written\n`);
    else {
      process.stdout.write(`${file}: dropped ${counted(r.recordsDropped, 'record')} after seq ${count(r.lastSeq)}, ${bytes(r.bytesBefore)} -> ${bytes(r.bytesAfter)}; ` +
        `what was dropped is in ${r.savedTo}\n`);
      if (r.cut !== null) process.stdout.write(`  ${describeCut(r.cut)}\n`);
    }
    return Exit.OK;
  },
};
