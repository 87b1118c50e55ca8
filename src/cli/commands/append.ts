/** journal append <file> [--atomic]: one record per line of JSON on stdin. */
import { createInterface } from 'node:readline';
import { isJournalError, Journal } from 'jsonl-journal';
import { onePath, report, type Command } from '../command.js';
import { count, Exit, red } from '../term.js';

const GROUP = 1000;

export const appendCommand: Command = {
  name: 'append',
  summary: 'append one record per line of JSON read from stdin (creates the journal)',
  help: `Usage: journal append <file> [--atomic]

Reads stdin, one JSON value per line (blank lines are skipped), and appends each as a record,
durably. Creates the journal if it does not exist. Prints how many records were appended and
their seqs.

Without --atomic, records are appended in groups as they are read: when a line is not valid JSON,
every line before it has been appended and none after it; the error names the line.
With --atomic, all lines are appended as one group, or none if any line is invalid (the group
must fit in 64 MiB).

Exit codes: 0 appended; 65 a line is not valid JSON or cannot be stored; 3 could not append;
64 usage error.`,
  options: { atomic: { type: 'boolean' } },
  async run(values, positionals) {
    const file = onePath(positionals);
    const atomic = values.atomic === true;
    let j: Journal;
    try {
      j = await Journal.open(file);
    } catch (err) {
      return report(err);
    }
    let pending: unknown[] = [];
    let pendingFirstLine = 0;
    let appended = 0;
    let first = 0;
    let last = 0;
    const flush = async () => {
      if (pending.length === 0) return;
      const values_ = pending;
      pending = [];
      const rs = await j.appendMany(values_);
      if (first === 0) first = rs[0]!.seq;
      last = rs.at(-1)!.seq;
      appended += rs.length;
    };
    let lineNo = 0;
    let code: number = Exit.OK;
    try {
      for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
        lineNo++;
        if (line.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch (err) {
          process.stderr.write(`${red(process.stderr, 'journal:')} stdin line ${lineNo}: not valid JSON (${(err as Error).message})\n`);
          code = Exit.DATA;
          break;
        }
        if (pending.length === 0) pendingFirstLine = lineNo;
        pending.push(value);
        if (!atomic && pending.length >= GROUP) await flush();
      }
      if (code === Exit.OK || !atomic) await flush();
    } catch (err) {
      if (isJournalError(err) && (err.code === 'RECORD_TOO_LARGE' || err.code === 'INVALID_VALUE')) {
        process.stderr.write(`${red(process.stderr, 'journal:')} stdin lines from ${pendingFirstLine}: ${err.message}\n`);
        code = Exit.DATA;
      } else {
        code = report(err);
      }
    }
    try {
      await j.close();
    } catch (err) {
      code = report(err);
    }
    const what = appended === 0 ? 'appended 0 records' : `appended ${count(appended)} record${appended === 1 ? '' : 's'}, seq ${first}..${last}`;
    process.stdout.write(`${what}${code === Exit.DATA && atomic ? ' (--atomic: nothing appended)' : ''}\n`);
    return code;
  },
};
