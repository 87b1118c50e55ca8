// Consumer commits: the positions log with shared fdatasyncs against the commit of earlier
// versions, a write-replace of one position file per commit (temp file, write, fsync, rename,
// fsync the directory), reimplemented here as the baseline. Both read the same records with
// follow() and commit after every record: awaiting each commit, or not (awaiting the last of each
// call), with 1 consumer and with 8 at once in one process.
import fs from 'node:fs';
import path from 'node:path';
import { Consumer, follow, Journal } from 'jsonl-journal';
import { io } from '../dist/fs/io.js';
import { crc32 } from '../dist/format/crc.js';
import { event, fmtRate, fmtRatio, median, rounds, scratchDir, table } from './lib.mjs';

const RECORDS = 200_000;

/** The commit of earlier versions: one framed line in <name>.pos, replaced by write-replace. */
class WriteReplaceCommit {
  #chain = Promise.resolve();
  #n = 0;
  constructor(dir, name) {
    this.dir = dir;
    this.file = path.join(dir, `${name}.pos`);
  }

  commit(seq) {
    const run = this.#chain.then(() => this.#write(seq));
    this.#chain = run.catch(() => {});
    return run;
  }

  async #write(seq) {
    await fs.promises.mkdir(this.dir).catch((e) => (e.code === 'EEXIST' ? undefined : Promise.reject(e)));
    const json = JSON.stringify({ name: path.basename(this.file, '.pos'), seq, updated: Date.now(), journal: 'id', fingerprint: `${Date.now()}:1a2b3c4d` });
    const line = `${crc32(Buffer.from(json)).toString(16).padStart(8, '0')} ${json}\n`;
    const tmp = path.join(this.dir, `.${path.basename(this.file)}.replace-${process.pid}-${this.#n++}.tmp`);
    const fh = await fs.promises.open(tmp, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
    try {
      await fh.write(line, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, this.file);
    const dir = await fs.promises.open(this.dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    syncs.n += 2;
  }
}

/** Counts the fdatasync and fsync calls the journal makes (the baseline counts its own). */
const syncs = { n: 0, before: 0, commits: 0, per: new Map() };
for (const name of ['fdatasync', 'fsync']) {
  const orig = io[name];
  io[name] = (...a) => (syncs.n++, orig(...a));
}

export async function run(args) {
  const dir = scratchDir('commit');
  const file = path.join(dir, 'events.jsonl');
  const j = await Journal.open(file);
  for (let i = 0; i < RECORDS; i += 10_000) await j.appendMany(Array.from({ length: 10_000 }, (_, k) => event(i + k)));
  await j.close();

  let round = 0;
  /** A reader of the journal per consumer, kept across calls and started again when it runs out. */
  const readers = (n, make) => Array.from({ length: n }, (_, k) => make(k));
  const journalReaders = (n) => readers(n, (k) => ({ name: `c${k}-${round}`, c: null, it: null }));
  const openConsumers = async (rs) => {
    round++;
    for (const r of rs) {
      r.name = `${r.name.split('-')[0]}-${round}`;
      r.c = await Consumer.open(file, r.name);
      r.it = r.c.records();
    }
  };
  const closeConsumers = async (rs) => {
    for (const r of rs) await r.c.close();
  };
  const openBaseline = (rs) => {
    round++;
    for (const r of rs) {
      r.c = new WriteReplaceCommit(path.join(dir, `baseline-${round}.consumers`), r.name.split('-')[0]);
      r.it = follow(file, { fromSeq: 1 });
    }
  };
  const closeBaseline = async (rs) => {
    for (const r of rs) await r.it.return();
  };
  const restartConsumer = async (r) => {
    await r.c.seek('earliest');
  };
  const restartBaseline = async (r) => {
    await r.it.return();
    r.it = follow(file, { fromSeq: 1 });
  };

  /** k records per reader per call, committing each: awaiting each commit, or only the last; from the start again after the last record. */
  const loop = (rs, k, awaitEach, restart) => () => Promise.all(rs.map(async (r) => {
    let last;
    for (let i = 0; i < k; i++) {
      const { seq } = (await r.it.next()).value;
      last = r.c.commit(seq);
      if (awaitEach || seq === RECORDS) await last;
      if (seq === RECORDS) await restart(r);
    }
    await last;
  }));

  const one = journalReaders(1);
  const eight = journalReaders(8);
  const task = (name, rs, perCall, awaitEach, baseline) => ({
    name,
    records: rs.length * perCall,
    setup: async () => {
      if (baseline) openBaseline(rs);
      else await openConsumers(rs);
      syncs.before = syncs.n;
      syncs.commits = 0;
    },
    teardown: async () => {
      syncs.per.set(name, [...(syncs.per.get(name) ?? []), (syncs.n - syncs.before) / syncs.commits]);
      if (baseline) await closeBaseline(rs);
      else await closeConsumers(rs);
    },
    fn: async () => {
      await loop(rs, perCall, awaitEach, baseline ? restartBaseline : restartConsumer)();
      syncs.commits += rs.length * perCall;
    },
  });
  const tasks = [
    task('before: write-replace per commit, 1 consumer awaiting each', one, 20, true, true),
    task('positions log, 1 consumer awaiting each', one, 100, true, false),
    task('before: write-replace per commit, 1 consumer not awaiting each', one, 20, false, true),
    task('positions log, 1 consumer not awaiting each', one, 2000, false, false),
    task('before: write-replace per commit, 8 consumers awaiting each', eight, 5, true, true),
    task('positions log, 8 consumers awaiting each', eight, 50, true, false),
    task('before: write-replace per commit, 8 consumers not awaiting each', eight, 5, false, true),
    task('positions log, 8 consumers not awaiting each', eight, 500, false, false),
  ];
  const res = await rounds(tasks, { ...args, time: Math.min(args.time, 1000) });
  fs.rmSync(dir, { recursive: true, force: true });

  const rate = (name) => res.get(name).rates;
  const rows = [];
  const ratios = [];
  for (let i = 0; i < tasks.length; i += 2) {
    const [base, mine] = [tasks[i], tasks[i + 1]];
    for (const t of [base, mine]) rows.push([t.name, fmtRate(median(rate(t.name))), median(syncs.per.get(t.name)).toFixed(3)]);
    const r = median(rate(mine.name).map((x, k) => x / rate(base.name)[k]));
    const what = mine.name.replace('positions log, ', '');
    ratios.push([what, fmtRatio(r), what === '1 consumer not awaiting each' ? '≥ 5×' : '']);
  }
  return [
    table(['consumer commits after every record, ~100-byte records', 'commits/s (median)', 'fsyncs per commit'], rows),
    '',
    table(['positions log / write-replace per commit (median of per-round ratios)', 'measured', 'target'], ratios),
  ].join('\n');
}
