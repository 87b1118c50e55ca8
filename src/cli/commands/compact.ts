/** journal compact <file> [--key <path>] [--before-seq N] [--retain-for-consumers]. */
import { compact, type JournalRecord } from 'jsonl-journal';
import { intOption, onePath, report, type Command } from '../command.js';
import { bytes, count, Exit, Progress } from '../term.js';

export const compactCommand: Command = {
  name: 'compact',
  summary: 'rewrite a journal smaller: latest record per key, retention by seq (crash-safe, live)',
  help: `Usage: journal compact <file> [--key <path>] [--before-seq N] [--retain-for-consumers] [--json]

Rewrites the journal by write-replace, safe against crashes and while writers, readers and
followers run. Seqs are kept. Records appended during the compaction are kept as they are.

Options:
  --key <path>              keep only the latest record per key; the key is the value at <path> in
                            each record's data (dots separate object keys: user.id). Records without
                            it are kept. A record whose data has "$tombstone": true deletes its key
  --before-seq N            drop records with seq below N (retention); with --key, a key's live
                            latest value is kept however old
  --retain-for-consumers    drop nothing a named consumer has not committed yet
  --json                    print the result as JSON

Exit codes: 0 compacted; 2 damage in the journal (it is left untouched; see journal repair);
3 could not compact (another compaction runs, I/O error ...); 64 usage error.`,
  options: {
    key: { type: 'string' }, 'before-seq': { type: 'string' }, 'retain-for-consumers': { type: 'boolean' }, json: { type: 'boolean' },
  },
  async run(values, positionals) {
    const file = onePath(positionals);
    const beforeSeq = intOption(values, 'before-seq');
    const keyPath = typeof values.key === 'string' ? values.key.split('.') : null;
    const bar = new Progress(`compacting ${file}`, values.json !== true);
    let r;
    try {
      r = await compact(file, {
        ...(keyPath !== null ? { key: (rec: JournalRecord) => keyAt(rec.data, keyPath) } : {}),
        ...(beforeSeq !== undefined ? { beforeSeq } : {}),
        retainForConsumers: values['retain-for-consumers'] === true,
        onProgress: (p) => bar.update(p.bytesRead, p.bytesTotal),
      });
    } catch (err) {
      return report(err);
    } finally {
      bar.finish();
    }
    if (values.json === true) process.stdout.write(`${JSON.stringify({ file, ...r })}\n`);
    else {
      process.stdout.write(`${file}: ${count(r.recordsBefore)} -> ${count(r.recordsAfter)} records, ${bytes(r.bytesBefore)} -> ${bytes(r.bytesAfter)}, ` +
        `generation ${r.generation}, in ${r.ms.toFixed(0)} ms (appends held ${r.stallMs.toFixed(1)} ms)\n`);
    }
    return Exit.OK;
  },
};

/** The key at `path` in `data`, as a string; undefined when there is none. */
function keyAt(data: unknown, path: string[]): string | undefined {
  let v = data;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}
