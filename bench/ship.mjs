// Shipping to NATS JetStream: records/s that ship() moves from a journal into a stream, beside a
// plain JetStream publish loop of the same messages with the same window of unacknowledged
// publishes on a connection with the same options, and records/s of restore(); on one local
// nats-server and on a 3-node cluster on loopback with a stream of 3 replicas. The server
// processes share the machine's cores with the benchmark, so the figure that counts is the ratio
// of ship to the loop within each round; the order of the two alternates from round to round.
import path from 'node:path';
import fs from 'node:fs';
import { connect, headers } from '@nats-io/transport-node';
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { Journal } from 'jsonl-journal';
import { restore, ship } from 'jsonl-journal/nats';
import { CONNECTION_OPTIONS, loadNats } from '../dist/nats/client.js';
import { Publisher } from '../dist/nats/publisher.js';
import { natsServerVersion, startCluster, startServer } from '../tools/nats-server.mjs';
import { event, fmtRate, fmtRatio, median, scratchDir, table } from './lib.mjs';

const WINDOW = 256;
/** Per-round ratios vary by ±20 % on a busy two-core machine; their median over this many is stable to a few %. */
export const minRounds = 11;
const TARGETS = [
  { name: 'single', label: '1 server', records: 100_000, replicas: 1 },
  { name: 'cluster', label: '3-node cluster, 3 replicas', records: 50_000, replicas: 3 },
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
  return windowLoop(n, (i, settled) => {
    js.publish(subject, JSON.stringify(event(i)), { msgID: `${journal.id}:${i + 1}`, expect: { lastSequence: i }, headers: recordHeaders(journal, i), timeout: 5000 })
      .then(() => settled(null), settled);
  });
}

/**
 * The same loop publishing through the shipper's publisher (one reply subscription, one timer)
 * instead of js.publish: what ship() would cost if reading the journal and keeping its position
 * were free.
 */
async function publisherLoop(nats, nc, subject, journal, n) {
  const pub = new Publisher(nats, nc, 5000, (settled, err) => settled(err));
  try {
    await windowLoop(n, (i, settled) => {
      const h = recordHeaders(journal, i);
      h.set('Nats-Msg-Id', `${journal.id}:${i + 1}`);
      h.set('Nats-Expected-Last-Sequence', String(i));
      pub.publish(subject, JSON.stringify(event(i)), h, settled);
    });
  } finally {
    pub.close();
  }
}

function recordHeaders(journal, i) {
  const h = headers();
  h.set('Journal-Id', journal.id);
  h.set('Journal-Created', String(journal.created));
  h.set('Journal-Seq', String(i + 1));
  h.set('Journal-Ts', String(Date.now()));
  return h;
}

/** Publishes n messages with at most WINDOW unsettled, refilling the window as each settles. */
async function windowLoop(n, publishOne) {
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
  const done = (err) => {
    if (err !== null && failed === null) failed = err;
    settled();
  };
  for (let i = 0; i < n && failed === null; i++) {
    inFlight++;
    publishOne(i, done);
    if (inFlight >= WINDOW) await new Promise((r) => (wake = r));
  }
  while (inFlight > 0) await new Promise((r) => (wake = r));
  if (failed !== null) throw failed;
}

async function measure(target, urls, dir, rounds) {
  const file = path.join(dir, `${target.name}.jsonl`);
  const journal = await makeJournal(file, target.records);
  // The shipper's connection options, so that the loops are neither slowed by what the shipper
  // turns off nor spared what it turns on.
  const nats = await loadNats();
  const nc = await connect({ ...CONNECTION_OPTIONS, servers: urls });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const rates = { plain: [], publisher: [], ship: [], restore: [] };
  const timed = async (key, stream, fn) => {
    await freshStream(jsm, stream, target.replicas);
    const t0 = performance.now();
    await fn();
    rates[key].push(target.records / ((performance.now() - t0) / 1000));
  };
  const tasks = {
    plain: () => timed('plain', 'PLAIN', () => plainLoop(js, 'plain', journal, target.records)),
    publisher: () => timed('publisher', 'PLAIN', () => publisherLoop(nats, nc, 'plain', journal, target.records)),
    ship: () => timed('ship', 'SHIPPED', async () => {
      const s = await ship(file, { server: urls, stream: 'SHIPPED', maxInFlight: WINDOW });
      await s.waitFor(target.records);
      await s.close();
    }),
  };
  try {
    for (let r = 0; r < rounds; r++) {
      // Alternating the order cancels what running first or last in a round does to a task.
      const order = r % 2 === 0 ? ['plain', 'publisher', 'ship'] : ['ship', 'publisher', 'plain'];
      for (const t of order) await tasks[t]();
      await jsm.streams.delete('PLAIN');

      const copy = path.join(dir, `${target.name}-restored-${r}.jsonl`);
      const t0 = performance.now();
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
  const ratios = (t, over) => results.get(t).ship.map((x, i) => x / results.get(t)[over][i]);
  const ratio = (t, over) => {
    const rs = ratios(t, over);
    return `${fmtRatio(median(rs))} (${fmtRatio(Math.min(...rs))}–${fmtRatio(Math.max(...rs))})`;
  };
  return [
    table(['~100-byte records, window of ' + WINDOW + ' unacknowledged publishes', `${TARGETS[0].label}: records/s (median)`, `${TARGETS[1].label}: records/s (median)`], [
      ['plain loop: `js.publish` of the same messages', m('single', 'plain'), m('cluster', 'plain')],
      ['the same loop through the shipper\'s publisher (one reply subscription)', m('single', 'publisher'), m('cluster', 'publisher')],
      ['journal ship (read, follow, publish, commit position)', m('single', 'ship'), m('cluster', 'ship')],
      ['journal restore (read the stream, appendRecords in groups of 1,000)', m('single', 'restore'), m('cluster', 'restore')],
    ]),
    '',
    table(['ship / loop: median of per-round ratios (lowest–highest)', TARGETS[0].label, TARGETS[1].label, 'target'], [
      ['ship / plain `js.publish` loop', ratio('single', 'plain'), ratio('cluster', 'plain'), '≥ 0.8×'],
      ['ship / loop through the shipper\'s publisher', ratio('single', 'publisher'), ratio('cluster', 'publisher'), ''],
    ]),
    '',
    `${TARGETS[0].records.toLocaleString('en-US')} records per task on one server, ${TARGETS[1].records.toLocaleString('en-US')} on the cluster; ${version}, file storage, client and servers on the same machine.`,
  ].join('\n');
}
