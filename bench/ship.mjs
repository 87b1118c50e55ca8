// Shipping to NATS JetStream: records/s that ship() moves from a journal into a stream, beside a
// plain JetStream publish loop of the same messages with the same window of unacknowledged
// publishes, and records/s of restore(); on one local nats-server and on a 3-node cluster on
// loopback with a stream of 3 replicas. The server processes share the machine's cores with the
// benchmark.
import path from 'node:path';
import fs from 'node:fs';
import { connect, headers } from '@nats-io/transport-node';
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { Journal } from 'jsonl-journal';
import { restore, ship } from 'jsonl-journal/nats';
import { natsServerVersion, startCluster, startServer } from '../tools/nats-server.mjs';
import { event, fmtRate, fmtRatio, median, scratchDir, table } from './lib.mjs';

const WINDOW = 256;
const TARGETS = [
  { name: 'single', label: '1 server', records: 100_000, replicas: 1 },
  { name: 'cluster', label: '3-node cluster, 3 replicas', records: 30_000, replicas: 3 },
];

async function makeJournal(file, n) {
  const j = await Journal.open(file, { durability: 'unsafe-nosync' });
  for (let i = 0; i < n; i += 10_000) await j.appendMany(Array.from({ length: Math.min(10_000, n - i) }, (_, k) => event(i + k)));
  await j.flush();
  const id = { id: j.id, created: Date.now() };
  await j.close();
  return id;
}

async function freshStream(jsm, name, replicas) {
  await jsm.streams.delete(name).catch(() => {});
  await jsm.streams.add({ name, subjects: [name.toLowerCase()], storage: 'file', num_replicas: replicas });
}

/**
 * What a user would write by hand: the same payloads and headers as the shipper's, each publish
 * carrying the same Nats-Msg-Id and expected last sequence, at most WINDOW awaiting their ack.
 */
async function plainLoop(js, subject, journal, n) {
  let inFlight = 0;
  let wake = null;
  let failed = null;
  const settled = () => {
    inFlight--;
    if (wake !== null) {
      const w = wake;
      wake = null;
      w();
    }
  };
  for (let i = 0; i < n && failed === null; i++) {
    const h = headers();
    h.set('Journal-Id', journal.id);
    h.set('Journal-Created', String(journal.created));
    h.set('Journal-Seq', String(i + 1));
    h.set('Journal-Ts', String(Date.now()));
    inFlight++;
    js.publish(subject, JSON.stringify(event(i)), { msgID: `${journal.id}:${i + 1}`, expect: { lastSequence: i }, headers: h, timeout: 5000 })
      .then(settled, (err) => {
        failed = err;
        settled();
      });
    if (inFlight >= WINDOW) await new Promise((r) => (wake = r));
  }
  while (inFlight > 0) await new Promise((r) => (wake = r));
  if (failed !== null) throw failed;
}

async function measure(target, urls, dir, rounds) {
  const file = path.join(dir, `${target.name}.jsonl`);
  const journal = await makeJournal(file, target.records);
  // The same options the shipper connects with, so the loop is not slowed by what the shipper turns off.
  const nc = await connect({ servers: urls, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const rates = { plain: [], ship: [], restore: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      await freshStream(jsm, 'PLAIN', target.replicas);
      let t0 = performance.now();
      await plainLoop(js, 'plain', journal, target.records);
      rates.plain.push(target.records / ((performance.now() - t0) / 1000));
      await jsm.streams.delete('PLAIN');

      await freshStream(jsm, 'SHIPPED', target.replicas);
      t0 = performance.now();
      const s = await ship(file, { server: urls, stream: 'SHIPPED', maxInFlight: WINDOW });
      await s.waitFor(target.records);
      await s.close();
      rates.ship.push(target.records / ((performance.now() - t0) / 1000));

      const copy = path.join(dir, `${target.name}-restored-${r}.jsonl`);
      t0 = performance.now();
      const res = await restore(copy, { server: urls, stream: 'SHIPPED' });
      rates.restore.push(res.restored / ((performance.now() - t0) / 1000));
      if (res.restored !== target.records) throw new Error(`restore got ${res.restored} records of ${target.records}`);
      fs.rmSync(copy);
    }
    await jsm.streams.delete('SHIPPED');
  } finally {
    await nc.close();
  }
  return rates;
}

export async function run(args) {
  const version = natsServerVersion();
  if (version === null) return 'nats-server is not installed: this section needs it on the PATH.';
  const dir = scratchDir('ship');
  const results = new Map();
  try {
    const single = await startServer(path.join(dir, 'single'));
    try {
      results.set('single', await measure(TARGETS[0], [single.url], dir, args.rounds));
    } finally {
      await single.stop();
    }
    const cluster = await startCluster(path.join(dir, 'cluster'), 3);
    try {
      results.set('cluster', await measure(TARGETS[1], cluster.urls, dir, args.rounds));
    } finally {
      await cluster.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const m = (t, k) => fmtRate(median(results.get(t)[k]));
  const ratio = (t) => median(results.get(t).ship.map((x, i) => x / results.get(t).plain[i]));
  return [
    table(['~100-byte records, window of ' + WINDOW + ' unacknowledged publishes', `${TARGETS[0].label}: records/s (median)`, `${TARGETS[1].label}: records/s (median)`], [
      ['plain loop: JetStream publish of the same messages', m('single', 'plain'), m('cluster', 'plain')],
      ['journal ship (read, follow, publish, commit position)', m('single', 'ship'), m('cluster', 'ship')],
      ['journal restore (read the stream, appendRecords in groups of 1,000)', m('single', 'restore'), m('cluster', 'restore')],
    ]),
    '',
    table(['ratio (median of per-round ratios)', TARGETS[0].label, TARGETS[1].label, 'target'], [
      ['ship / plain publish loop', fmtRatio(ratio('single')), fmtRatio(ratio('cluster')), '≥ 0.8×'],
    ]),
    '',
    `${TARGETS[0].records.toLocaleString('en-US')} records per task on one server, ${TARGETS[1].records.toLocaleString('en-US')} on the cluster; ${version}, file storage, client and servers on the same machine.`,
  ].join('\n');
}
