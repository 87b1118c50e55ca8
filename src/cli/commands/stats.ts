/** journal stats <file> [--json]: header, records, seq range, size, last append time. */
import { readJournal, verify } from 'jsonl-journal/read';
import { onePath, report, type Command } from '../command.js';
import { bytes, count, Exit, Progress } from '../term.js';

export const statsCommand: Command = {
  name: 'stats',
  help: `Usage: journal stats <file> [--json]

Shows the header (id, format version, creation time, generation, maxSeq, minSeq), the number of
records, the seq range, the size and the time of the last append. Reads the whole file.

Exit codes: 0 shown; 2 damage (stats are still shown); 3 could not read; 64 usage error.`,
  options: { json: { type: 'boolean' } },
  async run(values, positionals) {
    const file = onePath(positionals);
    const bar = new Progress(`reading ${file}`, values.json !== true);
    let rep;
    let lastTs: number | null = null;
    try {
      rep = await verify(file, { onProgress: (p) => bar.update(p.bytesRead, p.bytesTotal) });
      if (rep.lastSeq !== null) {
        const it = readJournal(file, { fromSeq: rep.lastSeq, corrupt: 'skip' });
        const r = await it.next();
        await it.return();
        if (!r.done) lastTs = r.value.ts;
      }
    } catch (err) {
      return report(err);
    } finally {
      bar.finish();
    }
    const h = rep.header;
    const stats = {
      // The highest seq ever assigned: the header's maxSeq is only what it was when the file was written.
      file, id: h.id, version: h.version, created: new Date(h.created).toISOString(), generation: h.generation, maxSeq: Math.max(h.maxSeq, rep.lastSeq ?? 0), minSeq: h.minSeq,
      records: rep.records, firstSeq: rep.firstSeq, lastSeq: rep.lastSeq, bytes: rep.bytes,
      lastAppend: lastTs === null ? null : new Date(lastTs).toISOString(), tornTail: rep.tornTail, damagedLines: rep.corrupt.length,
    };
    if (values.json === true) process.stdout.write(`${JSON.stringify(stats)}\n`);
    else {
      const o = process.stdout;
      o.write(`${file}\n`);
      o.write(`  id          ${stats.id}\n  format      jsonl-journal version ${stats.version}\n  created     ${stats.created}\n`);
      o.write(`  generation  ${stats.generation} (compactions)\n  records     ${count(stats.records)}\n`);
      o.write(`  seqs        ${stats.firstSeq === null ? 'none' : `${count(stats.firstSeq)}..${count(stats.lastSeq!)}`} (max assigned ${count(stats.maxSeq)}, retained from ${count(stats.minSeq)})\n`);
      o.write(`  size        ${bytes(stats.bytes)} (${count(stats.bytes)} bytes)\n  last append ${stats.lastAppend ?? 'never'}\n`);
      if (rep.tornTail !== null) o.write(`  torn tail   ${count(rep.tornTail.bytes)} bytes (normal after a crash)\n`);
      if (rep.corrupt.length > 0) o.write(`  damaged     ${rep.corrupt.length} lines: run journal verify\n`);
    }
    return rep.corrupt.length > 0 ? Exit.DAMAGED : Exit.OK;
  },
};
