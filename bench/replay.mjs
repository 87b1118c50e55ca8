// Replay: the streaming, checksum-checking reader against reading the whole file and parsing it.
import fs from 'node:fs';
import path from 'node:path';
import { Journal, readJournal, verify } from 'jsonl-journal';
import { event, fmtRate, fmtRatio, median, rounds, scratchDir, table } from './lib.mjs';

const RECORDS = 1_000_000;

export async function run(args) {
  const dir = scratchDir('replay');
  const file = path.join(dir, 'replay.jsonl');
  const j = await Journal.open(file, { durability: 'unsafe-nosync' });
  for (let i = 0; i < RECORDS; i += 10_000) await j.appendMany(Array.from({ length: 10_000 }, (_, k) => event(i + k)));
  await j.close();
  const bytes = fs.statSync(file).size;
  let sink = 0;
  const tasks = [
    {
      name: 'raw: readFile + split + JSON.parse (no checks)', records: RECORDS, iterations: 3, warmup: 1,
      fn: () => {
        const lines = fs.readFileSync(file, 'utf8').split('\n');
        for (let i = 1; i < lines.length; i++) {
          const l = lines[i];
          if (l.length > 0) sink += JSON.parse(l.slice(9)).seq;
        }
      },
    },
    {
      name: 'journal: readJournal (streaming, CRC checked)', records: RECORDS, iterations: 3, warmup: 1,
      fn: async () => {
        for await (const r of readJournal(file)) sink += r.seq;
      },
    },
    {
      name: 'journal: verify (CRC + batch checks, no records kept)', records: RECORDS, iterations: 3, warmup: 1,
      fn: async () => {
        sink += (await verify(file)).records;
      },
    },
  ];
  const res = await rounds(tasks, { ...args, time: 1 });
  fs.rmSync(dir, { recursive: true, force: true });
  const [raw, reader, ver] = tasks.map((t) => t.name);
  const ratio = (a, b) => median(res.get(a).rates.map((x, i) => x / res.get(b).rates[i]));
  const mbps = (name) => `${((median(res.get(name).rates) * bytes) / RECORDS / 1e6).toFixed(0)} MB/s`;
  return [
    table(['replay of 1,000,000 records (' + (bytes / 1e6).toFixed(0) + ' MB)', 'records/s (median)', 'MB/s'],
      tasks.map((t) => [t.name, fmtRate(median(res.get(t.name).rates)), mbps(t.name)])),
    '',
    table(['ratio', 'measured', 'target'], [
      ['readJournal / raw readFile + split + JSON.parse', fmtRatio(ratio(reader, raw)), '≥ 1.0×'],
      ['verify / raw readFile + split + JSON.parse', fmtRatio(ratio(ver, raw)), ''],
    ]),
    sink === -1 ? '' : '',
  ].join('\n').trimEnd();
}
