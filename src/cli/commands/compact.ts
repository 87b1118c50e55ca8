/** journal compact <file> [--key <path>] [--before-seq N] [--before-time T] [--max-bytes N] [--ignore-consumers]: rewrite a journal by a policy, and say what each consumer was spared or lost. */
import { compact, type CompactConsumerReport, type JournalRecord } from 'jsonl-journal';
import { intOption, onePath, report, type Command } from '../command.js';
import { bytes, count, counted, Exit, Progress, UsageError, yellow } from '../term.js';
import { parseTime } from '../time.js';
import { describeCut } from './recovered.js';

export const compactCommand: Command = {
  name: 'compact',
  help: `Usage: journal compact <file> [--key <path>] [--before-seq N] [--before-time T] [--max-bytes N]
                      [--ignore-consumers] [--json]

Rewrites the journal by write-replace, safe against crashes and while writers, readers and
followers run. Seqs are kept. Records appended during the compaction are kept as they are.

Named consumers are protected: nothing a consumer has not committed yet is removed, unless it has
expired (see journal consumers). What was kept for each consumer is printed, and so is every
consumer left behind (records it had not read were removed).

Options:
  --key <path>              keep only the latest record per key; the key is the value at <path> in
                            each record's data (dots separate object keys: user.id). Records without
                            it are kept. A record whose data has "$tombstone": true deletes its key
  --before-seq N            drop records with seq below N (retention); with --key, a key's live
                            latest value is kept however old
  --before-time T           drop records appended before T (an ISO 8601 date, ms since the epoch,
                            or a time ago: 7d keeps the last 7 days); with --key, as --before-seq
  --max-bytes N             keep the newest records that fit in N bytes (suffixes k, M, G: 500M);
                            with --key, a key's live latest value is kept even if it does not fit
  --ignore-consumers        apply the policy to what consumers have not read too (each consumer
                            left behind is reported)
  --retain-for-consumers    protect consumers (the default; kept for older scripts)
  --json                    print the result as JSON

Exit codes: 0 compacted; 2 damage in the journal (it is left untouched; see journal repair);
3 could not compact (another compaction runs, I/O error ...); 64 usage error.`,
  options: {
    key: { type: 'string' }, 'before-seq': { type: 'string' }, 'before-time': { type: 'string' }, 'max-bytes': { type: 'string' },
    'retain-for-consumers': { type: 'boolean' }, 'ignore-consumers': { type: 'boolean' }, json: { type: 'boolean' },
  },
  async run(values, positionals) {
    const file = onePath(positionals);
    const beforeSeq = intOption(values, 'before-seq');
    const beforeTs = typeof values['before-time'] === 'string' ? parseTime('before-time', values['before-time']) : undefined;
    const maxBytes = typeof values['max-bytes'] === 'string' ? byteSize('max-bytes', values['max-bytes']) : undefined;
    const keyPath = typeof values.key === 'string' ? values.key.split('.') : null;
    const ignore = values['ignore-consumers'] === true;
    if (ignore && values['retain-for-consumers'] === true) throw new UsageError('--ignore-consumers and --retain-for-consumers cannot be used together');
    const bar = new Progress(`compacting ${file}`, values.json !== true);
    let r;
    try {
      r = await compact(file, {
        ...(keyPath !== null ? { key: (rec: JournalRecord) => keyAt(rec.data, keyPath) } : {}),
        ...(beforeSeq !== undefined ? { beforeSeq } : {}),
        ...(beforeTs !== undefined ? { beforeTs } : {}),
        ...(maxBytes !== undefined ? { maxBytes } : {}),
        retainForConsumers: !ignore,
        onProgress: (p) => bar.update(p.bytesRead, p.bytesTotal),
      });
    } catch (err) {
      return report(err);
    } finally {
      bar.finish();
    }
    if (values.json === true) process.stdout.write(`${JSON.stringify({ file, ...r })}\n`);
    else {
      process.stdout.write(`${file}: ${count(r.recordsBefore)} -> ${counted(r.recordsAfter, 'record')}, ${bytes(r.bytesBefore)} -> ${bytes(r.bytesAfter)}, ` +
        `generation ${r.generation}, in ${r.ms.toFixed(0)} ms (appends held ${r.stallMs.toFixed(1)} ms)\n`);
      if (r.cut !== null) process.stdout.write(`  ${describeCut(r.cut)}\n`);
      printConsumers(r.consumers);
    }
    return Exit.OK;
  },
};

/** What was kept for consumers (on stdout), and every consumer left behind (on stderr, loudly). */
function printConsumers(consumers: CompactConsumerReport[]): void {
  const spared = consumers.filter((c) => c.kept > 0);
  for (const c of spared) process.stdout.write(`  kept ${counted(c.kept, 'record')} for consumer ${c.name} (seq ${count(c.seq)}), which has not read them\n`);
  if (spared.length > 0) process.stdout.write('  --ignore-consumers removes them anyway; journal consumers --delete NAME forgets a consumer\n');
  for (const c of consumers.filter((x) => x.removed > 0 || x.positionGone)) {
    const what = [
      ...(c.removed > 0 ? [`removed ${counted(c.removed, 'record')} it had not read`] : []),
      ...(c.positionGone ? ['its next read fails with POSITION_GONE'] : []),
    ];
    process.stderr.write(`${yellow(process.stderr, 'journal:')} left consumer ${c.name} (seq ${count(c.seq)}${c.expired ? ', expired' : ''}) behind: ${what.join('; ')}\n`);
  }
}

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

const SUFFIX: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** A size in bytes: digits with an optional k, M, G (powers of 1000) or Ki, Mi, Gi suffix, and an optional B. */
function byteSize(option: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(|k|K|M|G|Ki|Mi|Gi)B?$/.exec(text.trim());
  const n = m === null ? Number.NaN : Math.floor(Number(m[1]) * SUFFIX[m[2]!]!);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${option} takes a size in bytes (500000, 500k, 500M, 2G), not ${JSON.stringify(text)}`);
  return n;
}
