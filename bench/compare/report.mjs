// Turns the rounds' results into what a reader sees: a table per record size, the replay table, the
// targets with their measured ratios, a sentence per peer on where jsonl-journal loses, and the
// chart. Every ratio is jsonl-journal ÷ the other store, the median of per-round ratios: above 1×
// jsonl-journal is faster.
import { fmtMs, fmtRate, fmtRatio, median, table } from '../lib.mjs';
import { barChart } from './chart.mjs';
import { REPLAY_RECORDS, SIZES, WORKLOADS, taskName } from './grid.mjs';

const PEERS = { sqlite: 'SQLite', level: 'classic-level', redis: 'Redis', sonic: 'sonic-boom', raw: 'the raw loops' };

const SYNC_PEER = 'sync (acknowledged once write(2) took the bytes, as with \'unsafe-nosync\')';
const TARGETS = [
  { workload: 'one', id: 'level', min: 1.1, what: '1 producer, durable: ÷ classic-level, put with sync: true' },
  { workload: 'one', id: 'sqlite', min: 0.8, what: '1 producer, durable: ÷ SQLite, 1 transaction per record' },
  { workload: 'one', id: 'raw', min: 1, what: '1 producer, durable: ÷ the raw write + fdatasync loop on a growing file' },
  { workload: 'concurrent', id: 'raw', min: 1, what: '256 producers, durable: ÷ the raw loop of 256 records per write + fdatasync' },
  { workload: 'batch', id: 'raw', min: 1, what: 'batches of 1,000, durable: ÷ the raw loop of 1,000 records per write + fdatasync' },
  { workload: 'concurrent', id: 'redis', min: 2.5, what: '256 producers, durable: ÷ Redis AOF always, XADD from 256 connections' },
  { workload: 'concurrent', id: 'level', min: 5, what: '256 producers, durable: ÷ classic-level, sync: true' },
  { workload: 'concurrent', id: 'sqlite', min: 10, what: '256 producers, durable: ÷ SQLite, 1 transaction per record' },
  { workload: 'batch', id: 'sqlite', min: 1, what: 'batches of 1,000, durable: ÷ SQLite, 1 transaction per 1,000' },
  ...WORKLOADS.flatMap((w) => ['sonic-sync', 'sonic-async'].map((id) => ({
    workload: w.key, id, min: id === 'sonic-sync' ? 1 : 1.5,
    what: `${w.label}, no fsync: ÷ sonic-boom ${id === 'sonic-sync' ? SYNC_PEER : 'async (buffered)'}`,
  }))),
  { workload: 'replay', id: 'raw', min: 1.2, what: 'replay: ÷ the raw readFile + split + JSON.parse loop' },
  { workload: 'replay', id: 'level', min: 1, what: 'replay: ÷ classic-level' },
  { workload: 'replay', id: 'sqlite', min: 1, what: 'replay: ÷ SQLite' },
];

/** Rounded as printed, so that a ratio shown as 2.50× is never reported as missing a 2.5× target. */
const round2 = (x) => Math.round(x * 100) / 100;

/**
 * `results` is what rounds() returned; `stores` and `replays` are the ones that ran. Returns the
 * markdown for docs/benchmarks.md and the SVG for docs/compare.svg.
 */
export function report(results, { stores, replays, notes, where, rounds, replayRecords = REPLAY_RECORDS }) {
  const REPLAY = { key: 'replay', label: `replay of ${replayRecords.toLocaleString('en-US')} records` };
  const rates = (name) => results.get(name)?.rates;
  const ratio = (a, b) => median(rates(a).map((x, i) => x / rates(b)[i]));
  const reference = (store) => (store.mode === 'nosync' ? 'journal-nosync' : 'journal');
  const ran = (name) => results.has(name);

  // Every pairing of jsonl-journal with another store, for the sentences on losses.
  const pairs = [];
  for (const size of SIZES) {
    for (const w of WORKLOADS) {
      for (const s of stores) {
        const name = taskName(size, w.key, s.id);
        if (s.peer === 'journal' || !ran(name)) continue;
        pairs.push({ peer: s.peer, size, what: w.label, name: s.name, detail: s.detail[w.key], x: ratio(taskName(size, w.key, reference(s)), name) });
      }
    }
    for (const r of replays) {
      const name = taskName(size, 'replay', r.id);
      if (r.peer === 'journal' || !ran(name)) continue;
      pairs.push({ peer: r.peer, size, what: 'replay', name: r.name, detail: r.detail, x: ratio(taskName(size, 'replay', 'journal'), name) });
    }
  }

  const appendTable = (size) => {
    const rows = [];
    for (const w of WORKLOADS) {
      let first = true;
      for (const s of stores) {
        const name = taskName(size, w.key, s.id);
        if (!ran(name)) continue;
        const r = results.get(name);
        rows.push([
          first ? w.label : '',
          `${s.name}: ${s.detail[w.key]}`,
          fmtRate(median(r.rates)),
          s.peer === 'journal' ? '' : fmtRatio(ratio(taskName(size, w.key, reference(s)), name)),
          fmtMs(r.p50),
          fmtMs(r.p99),
        ]);
        first = false;
      }
    }
    return table([size.label, 'store', 'records/s (median)', 'jsonl-journal ÷ store', 'p50 ms per call', 'p99 ms per call'], rows);
  };

  const replayTable = table(
    [REPLAY.label, ...SIZES.flatMap((size) => [`${size.short}: records/s`, `${size.short}: jsonl-journal ÷ store`])],
    replays.filter((r) => ran(taskName(SIZES[0], 'replay', r.id))).map((r) => [
      `${r.name}: ${r.detail}`,
      ...SIZES.flatMap((size) => {
        const name = taskName(size, 'replay', r.id);
        return [fmtRate(median(rates(name))), r.peer === 'journal' ? '' : fmtRatio(ratio(taskName(size, 'replay', 'journal'), name))];
      }),
    ]),
  );

  const targetCell = (t, size) => {
    const name = taskName(size, t.workload, t.id);
    const ref = taskName(size, t.workload, t.id.startsWith('sonic') ? 'journal-nosync' : 'journal');
    if (!ran(name) || !ran(ref)) return 'not measured';
    const x = round2(ratio(ref, name));
    return `${fmtRatio(x)}, ${x >= t.min ? 'met' : '**missed**'}`;
  };
  const targetTable = table(
    ['target: jsonl-journal ÷ store', 'required', ...SIZES.map((s) => s.short)],
    TARGETS.map((t) => [t.what, `≥ ${fmtRatio(t.min)}`, ...SIZES.map((size) => targetCell(t, size))]),
  );

  const sentences = Object.entries(PEERS).flatMap(([peer, peerName]) => {
    const mine = pairs.filter((p) => p.peer === peer);
    if (mine.length === 0) return [];
    // A peer measured in more than one mode says which one each case is about.
    const how = new Set(mine.map((p) => p.name)).size > 1 ? (p) => `${p.name}: ${p.detail}` : (p) => p.detail;
    const losses = mine.filter((p) => round2(p.x) < 1).sort((a, b) => a.x - b.x);
    if (losses.length === 0) {
      const closest = mine.reduce((a, b) => (b.x < a.x ? b : a));
      return [`- jsonl-journal is ahead of ${peerName} in every workload here; its smallest lead is ${fmtRatio(closest.x)} (${closest.what}, ${closest.size.short}, ${how(closest)}).`];
    }
    const items = losses.map((p) => `on ${p.what} (${p.size.short}, ${how(p)}) by ${fmtRatio(1 / p.x)}`);
    return [`- jsonl-journal loses to ${peerName} ${items.join('; ')}.`];
  });

  const markdown = [
    '![Records/s of jsonl-journal and the other stores, per workload and record size (log scale)](compare.svg)',
    '',
    ...(stores.length > 0 ? SIZES.flatMap((size) => [`### ${size.label}`, '', appendTable(size), '']) : []),
    ...(replays.length > 0 ? ['### Replay', '', replayTable, ''] : []),
    '### Targets',
    '',
    targetTable,
    '',
    '### Where jsonl-journal loses',
    '',
    ...sentences,
    '',
    ...notes.flatMap((n) => [n, '']),
    `_Measured ${where}; ${rounds} interleaved round${rounds === 1 ? '' : 's'}._`,
  ].join('\n');

  const kind = (s) => (s.peer === 'journal' ? s.id : s.chartKind ?? s.mode);
  const group = (label, items, key) => ({
    title: label,
    rows: items.filter((s) => ran(taskName(SIZES[0], key, s.id))).map((s) => ({
      label: `${s.name}: ${typeof s.detail === 'string' ? s.detail : s.detail[key]}`,
      kind: kind(s),
      values: SIZES.map((size) => median(rates(taskName(size, key, s.id)))),
    })),
  });
  const svg = barChart({
    title: 'jsonl-journal and the stores used instead: records per second',
    subtitle: `Medians of ${rounds} interleaved round${rounds === 1 ? '' : 's'}, log scale, higher is better. ${where}.`,
    series: SIZES.map((s) => s.short),
    groups: [
      ...WORKLOADS.map((w) => group(w.label, stores, w.key)),
      group(`${REPLAY.label} (reading back)`, replays.map((r) => ({ ...r, mode: r.peer === 'raw' ? 'baseline' : 'durable' })), 'replay'),
    ].filter((g) => g.rows.length > 0),
  });
  return { markdown, svg };
}
