// npm run bench:compare [-- --rounds N] [--time MS] [--only NAME]... [--replay-records N] [--write]
// jsonl-journal against the stores people use instead, in one process, interleaved round by round
// so that drift of the machine hits every store alike. Prints the report; --write also puts it into
// docs/benchmarks.md (section "compare") and the chart into docs/compare.svg.
// --only NAME (repeatable) keeps jsonl-journal and the named peers or parts: sqlite, level, redis,
// sonic, raw; append, replay. --replay-records N replays N records instead of 200,000 (the raw
// loop reads a whole file into one string, which V8 caps at 512 MB: leave it out for 1,000,000 ~1 KB records).
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, machine, rounds, scratchDir, writeSection } from '../lib.mjs';
import { appendTasks, replayTasks } from './grid.mjs';
import * as journal from './journal.mjs';
import * as level from './level.mjs';
import { installPeers, versions } from './peers.mjs';
import * as raw from './raw.mjs';
import { startRedis } from './redis.mjs';
import { report } from './report.mjs';
import * as sonic from './sonic.mjs';
import * as sqlite from './sqlite.mjs';

const PEERS = ['sqlite', 'level', 'redis', 'sonic', 'raw'];
const PARTS = ['append', 'replay'];

function parseArgs(argv) {
  const args = { rounds: 5, time: 1000, write: false, only: [], replayRecords: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--rounds') args.rounds = Number(argv[++i]);
    else if (a === '--time') args.time = Number(argv[++i]);
    else if (a === '--write') args.write = true;
    else if (a === '--only') args.only.push(argv[++i]);
    else if (a === '--replay-records') args.replayRecords = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}; use --rounds N, --time MS, --only NAME, --replay-records N, --write`);
  }
  if (!(args.rounds >= 1) || !(args.time > 0)) throw new Error('--rounds and --time take positive numbers');
  for (const name of args.only) {
    if (![...PEERS, ...PARTS].includes(name)) throw new Error(`--only ${name}: not one of ${[...PEERS, ...PARTS].join(', ')}`);
  }
  // The docs hold the whole comparison or nothing: a partial run would leave out rows silently.
  if (args.write && (args.only.length > 0 || args.replayRecords !== undefined)) throw new Error('--write needs the whole comparison as documented; drop --only and --replay-records');
  if (args.replayRecords !== undefined && !(Number.isSafeInteger(args.replayRecords) && args.replayRecords > 0)) throw new Error('--replay-records takes a positive integer');
  return args;
}

const args = parseArgs(process.argv.slice(2));
const peers = args.only.filter((n) => PEERS.includes(n));
const parts = args.only.filter((n) => PARTS.includes(n));
const wants = (peer) => peer === 'journal' || peers.length === 0 || peers.includes(peer);
const part = (name) => parts.length === 0 || parts.includes(name);

installPeers();
const where = machine();
console.log(`jsonl-journal against other stores: ${where}\n`);

const dir = scratchDir('compare');
const notes = [];
let redis = null;
let replay = null;
try {
  if (wants('redis') && part('append')) {
    const redisDir = path.join(dir, 'redis');
    fs.mkdirSync(redisDir);
    redis = await startRedis(redisDir);
    if (redis.note) {
      console.log(`${redis.note}\n`);
      notes.push(redis.note);
      redis = null;
    }
  }
  // The order every round runs them in: durable stores, the raw baseline, then the no-fsync ones.
  const [durable, nosync] = journal.stores;
  const stores = [
    durable, ...sqlite.stores, ...level.stores, ...(redis?.stores ?? []), ...raw.stores,
    nosync, ...sonic.stores, ...raw.nosyncStores,
  ].filter((s) => wants(s.peer));
  const replays = [journal.replay, sqlite.replay, level.replay, raw.replay].filter((r) => wants(r.peer));

  const tasks = part('append') ? appendTasks(stores, dir) : [];
  if (part('replay')) {
    console.error('Loading the replay data sets ...');
    replay = await replayTasks(replays, dir, args.replayRecords);
    tasks.push(...replay.tasks);
  }
  notes.push(versions({ redis: redis?.version }));

  // One line per round on stderr, so a long run shows it is alive without cluttering the report.
  let round = 0;
  let started = Date.now();
  const first = tasks[0];
  const firstSetup = first.setup;
  first.setup = async () => {
    console.error(`round ${++round} of ${args.rounds}${round > 1 ? ` (the last took ${Math.round((Date.now() - started) / 1000)} s)` : ''}`);
    started = Date.now();
    await firstSetup?.();
  };
  const results = await rounds(tasks, args);

  const { markdown, svg } = report(results, {
    stores: part('append') ? stores : [],
    replays: part('replay') ? replays : [],
    notes,
    where,
    rounds: args.rounds,
    ...(args.replayRecords !== undefined ? { replayRecords: args.replayRecords } : {}),
  });
  console.log(markdown);
  if (args.write) {
    writeSection('compare', markdown);
    fs.writeFileSync(path.join(ROOT, 'docs/compare.svg'), svg);
    console.error('\nWrote docs/benchmarks.md (section compare) and docs/compare.svg.');
  }
} finally {
  await replay?.close();
  await redis?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
