/** journal verify <file> [--json] [--fix]: check every line, report, and optionally cut a torn tail. */
import { ErrorCode, isJournalError, Journal, verify, type RecoveredTail, type TornTail, type VerifyReport } from 'jsonl-journal';
import { isBug, onePath, report, type Command } from '../command.js';
import { bold, bytes, count, counted, Exit, green, Progress, red, yellow } from '../term.js';
import { describeCut } from './recovered.js';

export const verifyCommand: Command = {
  name: 'verify',
  help: `Usage: journal verify <file> [--json] [--fix] [--deep]

Reads the whole journal, checks every line's CRC-32, frame and envelope and every batch, and
reports the records, the seq range, a torn tail (normal after a crash) and every damaged line
before durable data.

Options:
  --json   print one JSON report on stdout and nothing else there
  --fix    cut a torn tail (under the writers' lock, safe while writers run) and say what was cut;
           damage before the end is not touched: see journal repair
  --deep   also parse every record's data as JSON (slower; finds a foreign writer's invalid JSON
           under a valid checksum)

Exit codes: 0 clean; 1 only a torn tail; 2 damage before the end; 3 could not check (missing file,
not a journal, a damaged header, I/O error); 64 usage error.`,
  options: { json: { type: 'boolean' }, fix: { type: 'boolean' }, deep: { type: 'boolean' } },
  async run(values, positionals) {
    const file = onePath(positionals);
    const json = values.json === true;
    const deep = values.deep === true;
    let rep: VerifyReport;
    /** The torn tail the check found, when --fix went to cut it. */
    let seen: TornTail | null = null;
    let cut: RecoveredTail | null = null;
    try {
      rep = await check(file, json, deep);
      if (values.fix === true && rep.tornTail !== null) {
        seen = rep.tornTail;
        // Opening a writer cuts exactly what no commit mark vouches for, under the lock. That can
        // differ from what the check saw (a live writer may have finished that batch, or cut it and
        // appended since), so what is reported is what the open cut.
        const j = await Journal.open(file, { create: false });
        cut = j.recovered;
        await j.close();
        rep = await check(file, json, deep);
      }
    } catch (err) {
      if (json && !isBug(err)) {
        const e = err as Error;
        process.stdout.write(`${JSON.stringify({ file, status: 'error', error: { code: isJournalError(err) ? err.code : ErrorCode.IO_ERROR, message: e.message } })}\n`);
        return Exit.FAILED;
      }
      return report(err);
    }
    const status = rep.corrupt.length > 0 ? 'damaged' : rep.tornTail !== null ? 'torn-tail' : 'ok';
    const code = status === 'damaged' ? Exit.DAMAGED : status === 'torn-tail' ? Exit.TORN : Exit.OK;
    if (json) {
      process.stdout.write(`${JSON.stringify({ file, status, ...rep, ...(values.fix === true ? { cut } : {}) })}\n`);
      return code;
    }
    const o = process.stdout;
    const range = rep.records > 0 ? `seq ${count(rep.firstSeq!)}..${count(rep.lastSeq!)}` : 'no records';
    const head = status === 'ok' ? green(o, 'ok') : status === 'torn-tail' ? yellow(o, 'torn tail') : red(o, bold(o, `DAMAGED (${rep.corrupt.length} line${rep.corrupt.length === 1 ? '' : 's'})`));
    o.write(`${file}: ${head}\n  ${counted(rep.records, 'record')}, ${range}, ${bytes(rep.bytes)}, generation ${rep.header.generation}\n`);
    if (cut !== null) o.write(`  ${describeCut(cut)}\n`);
    else if (seen !== null) {
      o.write(`  cut nothing: the torn tail at offset ${count(seen.offset)} was gone when the writers' lock was taken (a writer finished or cut it)\n`);
    }
    if (rep.tornTail !== null) o.write(`  ${describeTail(rep.tornTail)}\n`);
    for (const d of rep.corrupt) o.write(`  ${red(o, 'damaged')} line ${d.line === null ? '?' : count(d.line)}, offset ${count(d.offset)}: ${d.reason}\n`);
    if (rep.corrupt.length > 0) o.write(`  journal repair ${file} rewrites it without them, keeping a .broken copy\n`);
    return code;
  },
};

async function check(file: string, json: boolean, deep: boolean): Promise<VerifyReport> {
  const bar = new Progress(`verifying ${file}`, !json);
  try {
    return await verify(file, { deep, onProgress: (p) => bar.update(p.bytesRead, p.bytesTotal) });
  } finally {
    bar.finish();
  }
}

/** What a torn tail is, in one line: a crash's leftover, or lines another tool appended. */
function describeTail(t: TornTail): string {
  const where = `${count(t.bytes)} bytes at offset ${count(t.offset)}`;
  if (t.foreign > 0) {
    const one = t.foreign === 1;
    return `torn tail: ${where}: ${count(t.foreign)} line${one ? '' : 's'} of plain JSON without checksums, which another tool appended, not a crash; ` +
      `the next writer, or journal verify --fix, saves and cuts ${one ? 'it' : 'them'}`;
  }
  return `torn tail: ${where}: normal after a crash; the next writer, or journal verify --fix, saves and cuts it`;
}
