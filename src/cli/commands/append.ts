/** journal append <file> [--atomic]: one record per line of JSON on stdin, stored exactly as written. */
import { isJournalError, Journal, rawJson, type RawJson } from 'jsonl-journal';
import { onePath, report, type Command } from '../command.js';
import { LineSplitter, type Line } from '../lines.js';
import { count, Exit, red } from '../term.js';
import { sayRecovered } from './recovered.js';

/** Lines appended as one group, and the bytes of JSON that make a group full before that. */
const GROUP = 1000;
const GROUP_BYTES = 16 * 1024 * 1024;
/**
 * A longer line is refused as it is read, without holding it. Up to this, a line too large for a
 * record is refused by the append, with the limit it exceeds.
 */
const MAX_LINE_BYTES = 32 * 1024 * 1024;

export const appendCommand: Command = {
  name: 'append',
  help: `Usage: journal append <file> [--atomic]

Reads stdin, one JSON value per line (blank lines are skipped), and appends each as a record,
durably. Each line is stored as written, numbers digit for digit, without whitespace outside
strings. Creates the journal if it does not exist; input with no records creates nothing. Prints
how many records were appended and their seqs.

Without --atomic, records are appended in groups as they are read: when a line cannot be stored
(not JSON, not UTF-8, a number too large for any double, a record too large), every line before
it has been appended and none after it; the error names the line.
With --atomic, all lines are appended as one group, or none if any line cannot be stored (the
group must fit in 64 MiB).

Exit codes: 0 appended; 65 a line cannot be stored; 3 could not append; 64 usage error.`,
  options: { atomic: { type: 'boolean' } },
  async run(values, positionals) {
    const file = onePath(positionals);
    const atomic = values.atomic === true;
    let j: Journal | null = null;
    /** Lines read and not appended yet, and their line numbers. */
    let pending: RawJson[] = [];
    let pendingLines: number[] = [];
    let pendingBytes = 0;
    let appended = 0;
    let first = 0;
    let last = 0;
    let code: number = Exit.OK;
    const bad = (lineNo: number, why: string) => {
      process.stderr.write(`${red(process.stderr, 'journal:')} stdin line ${lineNo}: ${why}\n`);
      code = Exit.DATA;
    };
    const appendGroup = async (group: RawJson[]) => {
      if (group.length === 0) return;
      // Opened at the first record: input with none creates nothing, and cuts nothing either.
      if (j === null) {
        j = await Journal.open(file);
        sayRecovered(file, j.recovered);
      }
      const rs = await j.appendMany(group);
      if (first === 0) first = rs[0]!.seq;
      last = rs.at(-1)!.seq;
      appended += rs.length;
    };
    /** Appends what is pending; a record too large stops it there, after the lines before it. */
    const flush = async () => {
      const group = pending;
      const lines = pendingLines;
      pending = [];
      pendingLines = [];
      pendingBytes = 0;
      try {
        await appendGroup(group);
      } catch (err) {
        if (!isJournalError(err, 'RECORD_TOO_LARGE') || err.index === undefined) throw err;
        if (!atomic) await appendGroup(group.slice(0, err.index));
        bad(lines[err.index]!, err.message.replace(/^appendMany value \[\d+\]: /, ''));
      }
    };
    // Lines are cut from the bytes and checked as UTF-8: decoding would replace what is not, and
    // the record would not be the line as written.
    const lines = new LineSplitter(MAX_LINE_BYTES);
    /** Takes one line of input; false once a line cannot be stored. */
    const take = async (l: Line): Promise<boolean> => {
      if (l.error !== undefined) {
        bad(l.no, l.error);
        return false;
      }
      if (l.text.trim() === '') return true;
      try {
        const raw = rawJson(l.text);
        pending.push(raw);
        pendingBytes += raw.text.length;
      } catch (err) {
        if (!isJournalError(err, 'INVALID_VALUE')) throw err;
        bad(l.no, err.message);
        return false;
      }
      pendingLines.push(l.no);
      if (!atomic && (pending.length >= GROUP || pendingBytes >= GROUP_BYTES)) await flush();
      return code === Exit.OK;
    };
    try {
      read: for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
        for (const l of lines.push(chunk)) if (!(await take(l))) break read;
      }
      if (code === Exit.OK) for (const l of lines.end()) await take(l);
      // The lines before a bad one are appended, unless all must be or none.
      if (code === Exit.OK || !atomic) await flush();
    } catch (err) {
      code = report(err);
    }
    const journal = j as Journal | null;
    if (journal !== null) {
      try {
        await journal.close();
      } catch (err) {
        code = report(err);
      }
    }
    process.stdout.write(`${summary(appended, first, last, lines.lines === 0 && code === Exit.OK)}${code === Exit.DATA && atomic ? ' (--atomic: nothing appended)' : ''}\n`);
    return code;
  },
};

function summary(appended: number, first: number, last: number, noInput: boolean): string {
  if (appended === 0) return noInput ? 'appended 0 records (no input)' : 'appended 0 records';
  const what = `appended ${count(appended)} record${appended === 1 ? '' : 's'}`;
  if (appended === 1) return `${what}, seq ${count(first)}`;
  // Other writers' records may sit between this run's: then the seqs are not a range of its own.
  return last - first + 1 === appended ? `${what}, seq ${count(first)}..${count(last)}` : `${what}, seqs from ${count(first)} to ${count(last)} among other writers' records`;
}
