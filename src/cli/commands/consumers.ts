/** journal consumers <file> [--json]: named consumers, their positions and lag. */
import { listConsumers } from 'jsonl-journal';
import { onePath, report, type Command } from '../command.js';
import { count, Exit } from '../term.js';

export const consumersCommand: Command = {
  name: 'consumers',
  summary: 'list the named consumers of a journal with their positions and lag',
  help: `Usage: journal consumers <file> [--json]

Lists every named consumer (see Consumer in docs/api.md): its committed seq, how many seqs the
journal has assigned past it (lag), and when it last committed.

Exit codes: 0 listed; 3 could not read; 64 usage error.`,
  options: { json: { type: 'boolean' } },
  async run(values, positionals) {
    const file = onePath(positionals);
    let list;
    try {
      list = await listConsumers(file);
    } catch (err) {
      return report(err);
    }
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify(list)}\n`);
      return Exit.OK;
    }
    if (list.length === 0) {
      process.stdout.write(`${file}: no consumers\n`);
      return Exit.OK;
    }
    const rows = [['NAME', 'SEQ', 'LAG', 'COMMITTED AT'], ...list.map((c) => [c.name, count(c.seq), count(c.lag), c.updated ? new Date(c.updated).toISOString() : '-'])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) process.stdout.write(`${r.map((c, i) => (i === 0 || i === 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()}\n`);
    return Exit.OK;
  },
};
