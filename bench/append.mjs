// Durable appends ('always'): the journal against a raw write + fdatasync loop on the same disk.
import fs from 'node:fs';
import path from 'node:path';
import { Journal } from 'jsonl-journal';
import { event, fdatasync, fmtMs, fmtRate, fmtRatio, median, pwrite, rawLine, rounds, scratchDir, table } from './lib.mjs';

const EVENTS = Array.from({ length: 65536 }, (_, i) => event(i));
const ev = (i) => EVENTS[i & 65535];

export async function run(args) {
  const dir = scratchDir('append');
  let n = 0;
  let fd = -1;
  let pos = 0;
  let j = null;
  const rawFile = () => {
    fd = fs.openSync(path.join(dir, `raw-${n}.jsonl`), 'w');
    pos = 0;
  };
  const closeRaw = () => {
    fs.closeSync(fd);
    fs.rmSync(path.join(dir, `raw-${n++}.jsonl`));
  };
  const openJournal = async () => {
    j = await Journal.open(path.join(dir, `j-${n}.jsonl`));
  };
  const closeJournal = async () => {
    await j.close();
    fs.rmSync(path.join(dir, `j-${n++}.jsonl`));
  };
  let seq = 0;
  const tasks = [
    {
      name: 'raw: write + fdatasync per record', records: 1, setup: rawFile, teardown: closeRaw,
      fn: async () => {
        const b = rawLine(++seq, ev(seq));
        await pwrite(fd, b, pos);
        pos += b.length;
        await fdatasync(fd);
      },
    },
    {
      name: 'raw, blocking calls: writeSync + fdatasyncSync per record', records: 1, setup: rawFile, teardown: closeRaw,
      fn: () => {
        const b = rawLine(++seq, ev(seq));
        fs.writeSync(fd, b, 0, b.length, pos);
        pos += b.length;
        fs.fdatasyncSync(fd);
      },
    },
    {
      name: 'raw: write + fdatasync per 1,000 records', records: 1000, setup: rawFile, teardown: closeRaw,
      fn: async () => {
        const lines = new Array(1000);
        for (let i = 0; i < 1000; i++) lines[i] = rawLine(++seq, ev(seq));
        const b = Buffer.concat(lines);
        await pwrite(fd, b, pos);
        pos += b.length;
        await fdatasync(fd);
      },
    },
    { name: '(a) journal: 1 producer awaiting each append', records: 1, setup: openJournal, teardown: closeJournal, fn: () => j.append(ev(++seq)) },
    {
      name: '(b) journal: 256 concurrent producers', records: 256, setup: openJournal, teardown: closeJournal,
      fn: () => {
        const ps = new Array(256);
        for (let i = 0; i < 256; i++) ps[i] = j.append(ev(++seq));
        return Promise.all(ps);
      },
    },
    {
      name: '(c) journal: appendMany of 1,000', records: 1000, setup: openJournal, teardown: closeJournal,
      fn: () => {
        const vs = new Array(1000);
        for (let i = 0; i < 1000; i++) vs[i] = ev(++seq);
        return j.appendMany(vs);
      },
    },
  ];
  const res = await rounds(tasks, args);
  fs.rmSync(dir, { recursive: true, force: true });

  const rate = (name) => res.get(name).rates;
  const ratio = (a, b) => median(rate(a).map((x, i) => x / rate(b)[i]));
  const [raw1, rawSync, raw1000, a, b, c] = tasks.map((t) => t.name);
  const rows = tasks.map((t) => {
    const r = res.get(t.name);
    return [t.name, fmtRate(median(r.rates)), fmtMs(r.p50), fmtMs(r.p99)];
  });
  const ratios = [
    ['(a) 1 producer / raw per-record loop', fmtRatio(ratio(a, raw1)), '≥ 0.9×'],
    ['(a) 1 producer / raw blocking per-record loop', fmtRatio(ratio(a, rawSync)), '(reference)'],
    ['(b) 256 producers / raw 1,000-record loop', fmtRatio(ratio(b, raw1000)), '≥ 0.8×'],
    ['(c) appendMany 1,000 / raw 1,000-record loop', fmtRatio(ratio(c, raw1000)), '≥ 0.9×'],
  ];
  return [
    table(['durable appends, ~100-byte records', 'records/s (median)', 'p50 ms per call', 'p99 ms per call'], rows),
    '',
    table(['ratio (median of per-round ratios)', 'measured', 'target'], ratios),
  ].join('\n');
}
