// Replay: the streaming, checksum-checking reader against reading the whole file and parsing it, for
// journals written in groups of 1, 256, 1,000 and 10,000 records.
import fs from 'node:fs';
import path from 'node:path';
import { Journal, readJournal, verify } from 'jsonl-journal';
import { event, fmtRate, fmtRatio, median, rounds, scratchDir, table } from './lib.mjs';

const RECORDS = 1_000_000;
const GROUPS = [1, 256, 1000, 10_000];

async function write(file, group) {
  const j = await Journal.open(file, { durability: 'unsafe-nosync' });
  if (group === 1) for (let i = 0; i < RECORDS; i++) await j.append(event(i));
  else for (let i = 0; i < RECORDS; i += group) await j.appendMany(Array.from({ length: group }, (_, k) => event(i + k)));
  await j.close();
}

export async function run(args) {
  const dir = scratchDir('replay');
  let sink = 0;
  const tasks = [];
  const files = [];
  for (const group of GROUPS) {
    const file = path.join(dir, `replay-${group}.jsonl`);
    await write(file, group);
    files.push({ group, file, bytes: fs.statSync(file).size });
    const by = `groups of ${group.toLocaleString('en-US')}`;
    tasks.push(
      {
        name: `${by}: raw readFile + split + JSON.parse (no checks)`, records: RECORDS, iterations: 3, warmup: 1,
        fn: () => {
          const lines = fs.readFileSync(file, 'utf8').split('\n');
          for (let i = 1; i < lines.length; i++) {
            const l = lines[i];
            if (l.length > 0) sink += JSON.parse(l.slice(9)).seq;
          }
        },
      },
      {
        name: `${by}: readJournal (streaming, CRC checked)`, records: RECORDS, iterations: 3, warmup: 1,
        fn: async () => {
          for await (const r of readJournal(file)) sink += r.seq;
        },
      },
    );
  }
  const last = files.at(-1);
  tasks.push({
    name: 'groups of 10,000: verify (CRC + batch checks, no records kept)', records: RECORDS, iterations: 3, warmup: 1,
    fn: async () => {
      sink += (await verify(last.file)).records;
    },
  });
  const res = await rounds(tasks, { ...args, time: 1 });
  fs.rmSync(dir, { recursive: true, force: true });
  const rates = (name) => res.get(name).rates;
  const ratio = (a, b) => median(rates(a).map((x, i) => x / rates(b)[i]));
  const rows = [];
  const ratios = [];
  for (const { group, bytes } of files) {
    const by = `groups of ${group.toLocaleString('en-US')}`;
    const raw = `${by}: raw readFile + split + JSON.parse (no checks)`;
    const reader = `${by}: readJournal (streaming, CRC checked)`;
    const mbps = (name) => `${((median(rates(name)) * bytes) / RECORDS / 1e6).toFixed(0)} MB/s`;
    rows.push([`${raw} (${(bytes / 1e6).toFixed(0)} MB)`, fmtRate(median(rates(raw))), mbps(raw)], [reader, fmtRate(median(rates(reader))), mbps(reader)]);
    ratios.push([`${by}: readJournal / raw`, fmtRatio(ratio(reader, raw)), '≥ 1.2×']);
  }
  const ver = 'groups of 10,000: verify (CRC + batch checks, no records kept)';
  rows.push([ver, fmtRate(median(rates(ver))), `${((median(rates(ver)) * last.bytes) / RECORDS / 1e6).toFixed(0)} MB/s`]);
  ratios.push(['groups of 10,000: verify / raw', fmtRatio(ratio(ver, 'groups of 10,000: raw readFile + split + JSON.parse (no checks)')), '']);
  return [
    table([`replay of ${RECORDS.toLocaleString('en-US')} records, ~100 B each, written in appendMany groups of N`, 'records/s (median)', 'MB/s'], rows),
    '',
    table(['ratio (median of per-round ratios)', 'measured', 'target'], ratios),
    sink === -1 ? '' : '',
  ].join('\n').trimEnd();
}
