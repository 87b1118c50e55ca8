/** journal repair <file>: rewrite without the damaged lines, keeping a .broken copy. */
import { repair } from 'jsonl-journal';
import { onePath, report, type Command } from '../command.js';
import { bytes, count, counted, Exit, Progress, yellow } from '../term.js';

export const repairCommand: Command = {
  name: 'repair',
  help: `Usage: journal repair <file> [--json]

The explicit fix for damage before durable data, never run implicitly. Copies the journal to
<file>.broken (or .broken.1, .2 ...), then rewrites it by write-replace without the damaged lines
and without a torn tail, keeping every intact record with its seq, and prints what was dropped.
Safe while writers and readers run.

Options:
  --json   print one JSON report on stdout

Exit codes: 0 repaired (or nothing to repair); 3 could not repair (missing file, not a journal,
a damaged header, I/O error, lock timeout); 64 usage error.`,
  options: { json: { type: 'boolean' } },
  async run(values, positionals) {
    const file = onePath(positionals);
    const bar = new Progress(`repairing ${file}`, values.json !== true);
    let r;
    try {
      r = await repair(file, { onProgress: (p) => bar.update(p.bytesRead, p.bytesTotal) });
    } catch (err) {
      return report(err);
    } finally {
      bar.finish();
    }
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify({ file, ...r })}\n`);
      return Exit.OK;
    }
    const o = process.stdout;
    if (r.brokenCopy === null) {
      o.write(`${file}: nothing to repair: ${counted(r.recordsKept, 'record')}, no damage, no torn tail; nothing was written\n`);
      return Exit.OK;
    }
    o.write(`${file}: kept ${counted(r.recordsKept, 'record')}, ${bytes(r.bytesBefore)} -> ${bytes(r.bytesAfter)}; the journal as it was is in ${r.brokenCopy}\n`);
    for (const d of r.dropped) o.write(`  ${yellow(o, 'dropped')} line ${d.line === null ? '?' : count(d.line)}, offset ${count(d.offset)}: ${d.reason}\n`);
    if (r.tornTail !== null) o.write(`  ${yellow(o, 'dropped')} torn tail: ${count(r.tornTail.bytes)} bytes at offset ${count(r.tornTail.offset)}\n`);

    return Exit.OK;
  },
};
