/** journal import <jsonl> <file> [--time-field NAME]: every line of a JSON Lines file as a record, streamed. */
import { createReadStream } from 'node:fs';
import { addAbortSignal } from 'node:stream';
import { isJournalError, Journal, rawJson, type AppendReceipt, type RawJson } from 'jsonl-journal';
import { interruption, report, UsageError, type Command } from '../command.js';
import { LineSplitter, type Line } from '../lines.js';
import { count, Exit, red } from '../term.js';
import { fieldTime } from '../time-field.js';
import { sayRecovered } from './recovered.js';

/** Lines appended as one group: one batch and one fdatasync each, as append does. */
const GROUP = 1000;
/**
 * Characters of JSON that make a group full before that. At up to 3 bytes a character, a full group
 * and one more line of 16 MiB stay under the 64 MiB an appendMany group may take.
 */
const GROUP_CHARS = 8 * 1024 * 1024;
/** No record can hold a longer line, so no longer line is kept in memory. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** Chunks of the input file: below the size at which V8 makes external strings, which it frees late. */
const CHUNK = 512 * 1024;

/** Lines read and not appended yet. */
interface Group {
  values: RawJson[];
  /** With --time-field: each value's time. */
  times: number[];
  /** Each value's line number. */
  lines: number[];
  /** The last line read into this group (bad and blank lines included). */
  end: number;
}

export const importCommand: Command = {
  name: 'import',
  help: `Usage: journal import <jsonl> <file> [--time-field NAME]

Appends each line of the JSON Lines file <jsonl> ("-" for stdin) as a record of the journal <file>,
durably, in order, reading the input as a stream (a file of any size, in bounded memory). Creates
the journal if it does not exist; input with no records creates nothing. Each line is stored as
written, numbers digit for digit, without whitespace outside strings; blank lines are skipped.

A bad line (not JSON, not UTF-8, a number too large for any double, a record too large, or with
--time-field a time missing or unreadable) is skipped and named on stderr by its line number; every
other line is imported, and the exit code is 65. A summary on stdout says how many records were
imported, their seqs and how many lines were skipped. Ctrl-C (or SIGTERM) stops it after appending
the lines read so far, and the summary names the last line imported: tail -n +N goes on from there.

Options:
  --time-field NAME   each record's time is the line's top-level field NAME: ms since the epoch
                      (pino's "time") or an ISO 8601 date and time with a zone
                      (2026-11-21T14:03:00.120Z); without it, the time of the import. A time
                      below the journal's last one is raised to it: times never go back.

Exit codes: 0 imported; 65 bad lines skipped, the rest imported; 3 could not import (or
interrupted); 64 usage error.`,
  options: { 'time-field': { type: 'string' } },
  async run(values, positionals) {
    if (positionals.length !== 2) {
      throw new UsageError(positionals.length < 2 ? `missing ${positionals.length === 0 ? '<jsonl>' : '<file>'}` : `unexpected argument ${JSON.stringify(positionals[2])}`);
    }
    const [input, file] = positionals as [string, string];
    const timeField = values['time-field'] as string | undefined;
    if (timeField === '') throw new UsageError('--time-field takes the name of a field');
    const name = input === '-' ? 'stdin' : input;

    let j: Journal | null = null;
    let imported = 0;
    let first = 0;
    let last = 0;
    let skipped = 0;
    /** The last line of the input whose fate is settled: appended, skipped or blank. */
    let done = 0;
    let group: Group = { values: [], times: [], lines: [], end: 0 };
    let groupChars = 0;
    /** The group being appended while the next is read, so that parsing and fdatasync overlap. */
    let inflight: Promise<void> = Promise.resolve();
    let code: number = Exit.OK;

    /** The last line, when no LF ends it: what a writer killed in mid-line leaves. */
    let unterminated = 0;
    /**
     * Bad lines not yet reported. A group's records too large for the journal are known only when
     * it is appended, while later lines are already being read: a message waits until every group
     * holding an earlier line has settled, so that messages come in line order.
     */
    const held: Array<{ no: number; why: string }> = [];
    /** The first line of the group being appended, and of the one waiting for it to settle. */
    let inflightFirst = Number.POSITIVE_INFINITY;
    let waitingFirst = Number.POSITIVE_INFINITY;
    const say = (all = false) => {
      const before = all ? Number.POSITIVE_INFINITY : Math.min(inflightFirst, waitingFirst, group.lines[0] ?? Number.POSITIVE_INFINITY);
      held.sort((a, b) => a.no - b.no);
      while (held.length > 0 && held[0]!.no < before) {
        const { no, why } = held.shift()!;
        const cut = no === unterminated ? ' (the last line, with no newline after it: cut short?)' : '';
        process.stderr.write(`${red(process.stderr, 'journal:')} ${name} line ${no}: ${why}${cut}\n`);
      }
    };
    const bad = (lineNo: number, why: string) => {
      held.push({ no: lineNo, why });
      skipped++;
      say();
    };
    const appended = (rs: AppendReceipt[]) => {
      if (rs.length === 0) return;
      if (first === 0) first = rs[0]!.seq;
      last = rs.at(-1)!.seq;
      imported += rs.length;
    };
    const open = async (create: boolean): Promise<Journal> => {
      const opened = await Journal.open(file, { create });
      sayRecovered(file, opened.recovered);
      j = opened;
      return opened;
    };
    /** Appends a group; a record too large is skipped, and the group appended without it. */
    const append = async (g: Group) => {
      while (g.values.length > 0) {
        // A new journal is created at the first record: input with none creates nothing.
        const journal = j ?? (await open(true));
        try {
          appended(await journal.appendMany(g.values, timeField === undefined ? undefined : { ts: g.times }));
          break;
        } catch (err) {
          if (!isJournalError(err, 'RECORD_TOO_LARGE') || err.index === undefined) throw err;
          // The index in the message is the group's, not the input's: the line number replaces it.
          bad(g.lines[err.index]!, `too large for a record: ${err.message.replace(/^appendMany value \[\d+\]: /, '')}`);
          for (const list of [g.values, g.times, g.lines]) list.splice(err.index, 1);
        }
      }
      done = g.end;
    };
    /** Waits for the group in flight, then sends the one read meanwhile. */
    const send = async (lineNo: number) => {
      const g = { ...group, end: lineNo };
      group = { values: [], times: [], lines: [], end: 0 };
      groupChars = 0;
      waitingFirst = g.lines[0] ?? Number.POSITIVE_INFINITY;
      await inflight;
      inflightFirst = waitingFirst;
      waitingFirst = Number.POSITIVE_INFINITY;
      inflight = append(g).finally(() => {
        inflightFirst = Number.POSITIVE_INFINITY;
        say();
      });
      // Its failure is taken when it is awaited; until then it must not count as unhandled.
      inflight.catch(() => {});
    };
    const take = (no: number, text: string) => {
      let raw: RawJson;
      try {
        raw = rawJson(text);
      } catch (err) {
        if (!isJournalError(err, 'INVALID_VALUE')) throw err;
        if (text.trim() !== '') bad(no, err.message);
        return;
      }
      if (timeField !== undefined) {
        // A second parse: rawJson() parsed the line too, but keeps only its text.
        const data = JSON.parse(raw.text) as unknown;
        const has = typeof data === 'object' && data !== null && !Array.isArray(data) && Object.hasOwn(data, timeField);
        const ts = has ? fieldTime((data as Record<string, unknown>)[timeField]) : `no ${JSON.stringify(timeField)} field`;
        if (typeof ts === 'string') {
          bad(no, has ? `${JSON.stringify(timeField)} field: ${ts}` : ts);
          return;
        }
        group.times.push(ts);
      }
      group.values.push(raw);
      group.lines.push(no);
      groupChars += raw.text.length;
    };

    const stop = interruption();
    const lines = new LineSplitter(MAX_LINE_BYTES);
    let finished = false;
    try {
      // An existing journal is opened before the input is read, so that a file that is not one (the
      // arguments swapped) is refused at once, not after every line of the input was found bad.
      await open(false).catch((err: unknown) => {
        if (!isJournalError(err, 'NOT_FOUND')) throw err;
      });
      const source = input === '-' ? process.stdin : createReadStream(input, { highWaterMark: CHUNK });
      // Ctrl-C or SIGTERM ends the read even while the input has nothing to give (an idle pipe).
      addAbortSignal(stop.signal, source);
      const handle = async (got: Line[]) => {
        for (const l of got) {
          if (l.error !== undefined) bad(l.no, l.error);
          else take(l.no, l.text);
          if (group.values.length >= GROUP || groupChars >= GROUP_CHARS) await send(l.no);
        }
      };
      let interrupted = false;
      try {
        for await (const chunk of source as AsyncIterable<Buffer>) await handle(lines.push(chunk));
      } catch (err) {
        if (!stop.signal.aborted) throw err;
        interrupted = true;
      }
      // The lines read before an interruption are appended; a last line cut off by it is not.
      if (!interrupted) {
        const rest = lines.end();
        unterminated = rest[0]?.no ?? 0;
        await handle(rest);
      }
      await send(lines.lines);
      await inflight;
      if (interrupted) throw new Interrupted();
      finished = true;
    } catch (err) {
      // What the group in flight did is known only once it has settled.
      await inflight.catch(() => {});
      say(true);
      if (!(err instanceof Interrupted)) {
        code = report(err);
      } else {
        process.stderr.write(`${red(process.stderr, 'journal:')} interrupted\n`);
        code = Exit.FAILED;
      }
    } finally {
      stop.release();
      say(true);
    }
    const journal = j as Journal | null;
    if (journal !== null) {
      try {
        await journal.close();
      } catch (err) {
        const c = report(err);
        if (code === Exit.OK) code = c;
      }
    }
    if (code === Exit.OK && skipped > 0) code = Exit.DATA;
    process.stdout.write(`${summary({ imported, first, last, skipped, lines: done, name, finished })}\n`);
    return code;
  },
};

class Interrupted extends Error {}

/**
 * What was imported. When the import did not finish, the last line it settled (appended, skipped or
 * blank): importing the lines after it (tail -n +N) goes on where it stopped.
 */
function summary(s: { imported: number; first: number; last: number; skipped: number; lines: number; name: string; finished: boolean }): string {
  if (s.lines === 0) return s.finished ? 'imported 0 records (no input)' : 'imported 0 records';
  const plural = (n: number, what: string) => `${count(n)} ${what}${n === 1 ? '' : 's'}`;
  const from = s.finished ? `from ${plural(s.lines, 'line')} of ${s.name}` : `from lines 1..${count(s.lines)} of ${s.name}`;
  // Other writers' records may sit between this import's: then the seqs are not a range of its own.
  const seqs = s.imported === 0 ? '' :
    s.imported === 1 ? `, seq ${count(s.first)}` :
    s.last - s.first + 1 === s.imported ? `, seq ${count(s.first)}..${count(s.last)}` :
    `, seqs from ${count(s.first)} to ${count(s.last)} among other writers' records`;
  return `imported ${plural(s.imported, 'record')} ${from}${seqs}${s.skipped > 0 ? `; skipped ${plural(s.skipped, 'bad line')}` : ''}${s.finished ? '' : `; nothing after line ${count(s.lines)} was imported`}`;
}
