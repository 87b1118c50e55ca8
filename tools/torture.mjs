#!/usr/bin/env node
// npm run torture [-- --seconds N] [--seed S] [--only kill,powerloss,faults,diskfull,fuzz,planted,groups] [--write]
//
// Runs the crash-safety suites of test/torture and prints one summary table. Without --seconds it
// runs the long configuration (>= 1,000 process kills, >= 10,000 power-loss crash states, every
// fault-injection case, the real disk-full test, >= 100,000 fuzz cases, a consumer group through
// 200 kills of its members: about 25 minutes on two cores). With --seconds N the kill and fuzz suites share what is left of N seconds after the quick
// suites. Every run also plants known bugs in the writer and requires the suites to catch them: a
// checker that never failed proves nothing.
//
// Exit status 0 only if the real code showed no violation and every planted bug was caught.
// --write puts the table into docs/guarantees.md between its torture markers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as diskfull from '../test/torture/diskfull.mjs';
import * as faults from '../test/torture/faults.mjs';
import * as fuzz from '../test/torture/fuzz.mjs';
import * as groups from '../test/torture/groups.mjs';
import * as kill from '../test/torture/kill.mjs';
import * as powerloss from '../test/torture/powerloss.mjs';

const SUITES = ['powerloss', 'faults', 'diskfull', 'planted', 'groups', 'kill', 'fuzz'];
const LONG = { kills: 1000, powerLossStates: 12_000, fuzzCases: 100_000, groupKills: 200 };

function parseArgs(argv) {
  const opts = { seconds: null, seed: Date.now() % 2 ** 31, only: SUITES, write: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--seconds') opts.seconds = positive(value(), a);
    else if (a === '--seed') opts.seed = positive(value(), a, true);
    else if (a === '--only') opts.only = value().split(',');
    else if (a === '--write') opts.write = true;
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown argument ${a}`);
  }
  for (const s of opts.only) if (!SUITES.includes(s)) usage(`unknown suite ${s} (suites: ${SUITES.join(', ')})`);
  return opts;
}

function positive(v, name, zeroOk = false) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) usage(`${name} takes a${zeroOk ? ' non-negative' : ' positive'} integer, not ${v}`);
  return n;
}

function usage(problem) {
  const text = `usage: npm run torture -- [--seconds N] [--seed S] [--only ${SUITES.join(',')}] [--write]`;
  if (problem) {
    console.error(`torture: ${problem}\n${text}`);
    process.exit(2);
  }
  console.log(text);
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
const t0 = Date.now();
const deadline = opts.seconds === null ? Infinity : t0 + opts.seconds * 1000;
const left = () => Math.max(0, (deadline - Date.now()) / 1000);
const rows = [];
const failures = [];
const log = (s) => process.stderr.write(`${s}\n`);

/** Adds a suite's stats as one row; `planted` rows pass only when the suite found violations. */
function add(label, stats, planted = false) {
  const caught = stats.failures.length > 0;
  const ok = planted ? caught : !caught && !stats.skipped;
  rows.push({ label, planted, ...stats, ok });
  if (planted && !caught) failures.push(`${label}: the planted bug went unnoticed`);
  if (!planted) for (const f of stats.failures) failures.push(`${label}: ${f}`);
  log(`  ${label}: ${stats.skipped ? `skipped (${stats.skipped})` : `${stats.states} states, ${stats.failures.length} ${planted ? 'violations found' : 'failures'}`}`);
}

function sum(list) {
  const out = { states: 0, acked: 0, lost: 0, corrupt: 0, failures: [] };
  for (const s of list) {
    out.states += s.states;
    out.acked += s.acked;
    out.lost += s.lost;
    out.corrupt += s.corrupt;
    out.failures.push(...s.failures);
  }
  return out;
}

log(`torture: seed ${opts.seed}${opts.seconds === null ? ', long run' : `, ${opts.seconds} s budget`}`);
const short = opts.seconds !== null && opts.seconds < 300;

if (opts.only.includes('powerloss')) {
  const per = Math.round((short ? 1_000 : LONG.powerLossStates) / Object.keys(powerloss.WORKLOADS).length);
  const runs = [];
  for (const w of Object.keys(powerloss.WORKLOADS)) {
    // Several recorded runs per workload: each records a different interleaving of its producers.
    for (let r = 0; r < 4; r++) runs.push(await powerloss.run({ seed: opts.seed + r, workload: w, states: Math.ceil(per / 4) }));
  }
  add('power loss (4 workloads)', sum(runs));
}

if (opts.only.includes('faults')) add('fault injection (every call of the workload)', await faults.run({ seed: opts.seed }));

if (opts.only.includes('diskfull')) add('disk full (ext4 on a loop device)', await diskfull.run());

if (opts.only.includes('planted')) {
  // Each broken writer must be caught by the power-loss suite; the ones a process kill can show
  // must also be caught by the kill suite.
  for (const broken of powerloss.PLANTED) {
    const workload = broken === 'noDirSync' ? 'compaction' : 'appends';
    add(`planted ${broken}: power loss (${workload})`, await powerloss.run({ seed: opts.seed, workload, states: 300, broken }), true);
  }
  for (const planted of kill.PLANTED) {
    add(`planted ${planted}: process kill`, await kill.run({ seed: opts.seed, kills: 300, planted }), true);
  }
}

if (opts.only.includes('groups')) {
  // About 5,000 records a kill keep the members busy through the kills.
  const kills = opts.seconds === null ? LONG.groupKills : short ? 20 : 60;
  log(`  consumer group: ${kills} kills...`);
  add('consumer group (4 members, SIGKILLed and restarted)', await groups.run({ seed: opts.seed, kills, records: Math.max(100_000, kills * 5_000) }));
}

// The two open-ended suites share the rest of the budget.
const both = opts.only.includes('kill') && opts.only.includes('fuzz');
const share = () => Math.max(10, both ? left() / 2 : left());

if (opts.only.includes('kill')) {
  const kills = opts.seconds === null ? LONG.kills : Infinity;
  const seconds = opts.seconds === null ? Infinity : share() * 0.8; // the final checks take the rest
  log(`  process kill: ${opts.seconds === null ? `${kills} kills` : `${Math.round(seconds)} s`}...`);
  add('process kill (3 writers, compactor, consumer)', await kill.run({ seed: opts.seed, kills, seconds }));
}

if (opts.only.includes('fuzz')) {
  const seconds = Math.max(10, left());
  const until = Date.now() + seconds * 1000;
  const runs = [];
  let cases = 0;
  // Chunks of 50 journals, each with its own fast-check seed, until the cases or the time run out.
  const more = () => (opts.seconds === null ? cases < LONG.fuzzCases : Date.now() < until - 1000);
  for (let chunk = 0; more(); chunk++) {
    const s = await fuzz.run({ seed: opts.seed + chunk, journals: 50, seconds: opts.seconds === null ? Infinity : (until - Date.now()) / 1000 });
    runs.push(s);
    cases += s.states;
    if (s.failures.length > 0) break;
  }
  const stats = sum(runs);
  stats.untyped = runs.reduce((n, s) => n + s.untyped, 0);
  add('reader fuzz (9 kinds of damage, 1 to 8 per journal)', stats);
}

const minutes = ((Date.now() - t0) / 60_000).toFixed(1);
const table = [
  '| suite | crash states / cases | acknowledged records checked | acknowledged lost | corrupt records returned | result |',
  '| --- | ---: | ---: | ---: | ---: | --- |',
  ...rows.map((r) =>
    `| ${r.label} | ${r.skipped ? '-' : r.states.toLocaleString('en-US')} | ${r.skipped ? '-' : r.acked.toLocaleString('en-US')} | ${r.planted ? '(planted)' : r.lost} | ${r.planted ? '(planted)' : r.corrupt} | ${
      r.skipped ? `skipped: ${r.skipped}` : r.planted ? (r.ok ? `caught: ${r.failures.length} violations` : '**NOT CAUGHT**') : r.ok ? '0 failures' : `**${r.failures.length} failures**`
    } |`,
  ),
].join('\n');
const stamp = `_Run ${new Date().toISOString().slice(0, 10)}: \`npm run torture${process.argv.length > 2 ? ` -- ${process.argv.slice(2).filter((a) => a !== '--write').join(' ')}` : ''}\`, seed ${opts.seed}, ${minutes} min, Node ${process.version}, ${os.cpus().length} CPUs._`;

console.log(`\n${table}\n\n${stamp}`);
for (const f of failures.slice(0, 20)) console.log(`\nFAILED ${f}`);

if (opts.write) {
  const doc = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'docs', 'guarantees.md');
  const text = fs.readFileSync(doc, 'utf8');
  const re = /<!-- torture -->[\s\S]*?<!-- \/torture -->/;
  if (!re.test(text)) throw new Error('docs/guarantees.md has no <!-- torture --> markers');
  fs.writeFileSync(doc, text.replace(re, `<!-- torture -->\n${table}\n\n${stamp}\n<!-- /torture -->`));
  log('torture: wrote docs/guarantees.md');
}
process.exit(failures.length === 0 ? 0 : 1);
