// A consumer group under process kills: 4 member processes consume a journal while the harness
// SIGKILLs one of them every 60-120 ms and starts another in its place. Each member works on every
// record it is given (a busy loop), appends "<seq> <member>" to a file of its own and acknowledges
// the record.
//
// Checked while they run: the group's position, sampled every 25 ms, is never past a record that no
// member has processed. At the end: every record was processed; a record processed twice was
// processed by members that were killed, all but once; no more records were processed twice than
// the kills could account for (one claim each); the position covers the journal.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Journal, listConsumers } from '../../dist/index.js';
import { prng } from './prng.mjs';

const MEMBER = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'group-member.mjs');
const MEMBERS = 4;

/** A member process; `ready` once it has joined the group. */
function startMember(file, out, tag, { records, claimSize, leaseMs, workUs }) {
  const proc = spawn(process.execPath, [MEMBER, file, 'g', out, String(workUs), String(leaseMs), String(claimSize), String(records), tag], { stdio: ['ignore', 'pipe', 'pipe'] });
  const m = { tag, proc, ready: false, stderr: '' };
  m.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  createInterface({ input: proc.stdout }).on('line', (l) => l === 'ready' && (m.ready = true));
  proc.stderr.on('data', (d) => (m.stderr += d));
  return m;
}

const position = async (file) => (await listConsumers(file)).find((c) => c.name === 'g')?.seq ?? 0;

/** Runs the suite with `kills` kills over a journal of `records` records. */
export async function run({ seed, kills = 20, records = 100_000, claimSize = 100, leaseMs = 2000, workUs = 60 }) {
  const rnd = prng(seed);
  const stats = { suite: 'consumer group', states: 0, acked: 0, lost: 0, corrupt: 0, duplicates: 0, samples: 0, failures: [] };
  const fail = (msg) => stats.failures.push(`seed ${seed}: ${msg}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jj-groups-'));
  const file = path.join(dir, 'j.jsonl');
  const outs = path.join(dir, 'processed');
  fs.mkdirSync(outs);
  const j = await Journal.open(file);
  for (let i = 1; i <= records; i += 10_000) await j.appendMany(Array.from({ length: Math.min(10_000, records - i + 1) }, (_, k) => ({ k: i + k })));
  await j.close();

  const o = { records, claimSize, leaseMs, workUs };
  let incarnation = 0;
  const start = () => {
    const tag = `m${incarnation++}`;
    return startMember(file, path.join(outs, `${tag}.txt`), tag, o);
  };
  const slots = Array.from({ length: MEMBERS }, start);
  const killed = new Set();

  // What the members processed so far, read as it grows; every seq up to `upTo` was processed.
  const processed = new Map();
  const offsets = new Map();
  let upTo = 0;
  const readOutputs = () => {
    for (const name of fs.readdirSync(outs)) {
      const tag = name.replace(/\.txt$/, '');
      const at = offsets.get(tag) ?? { pos: 0, rest: '' };
      const buf = fs.readFileSync(path.join(outs, name));
      const lines = (at.rest + buf.subarray(at.pos).toString('utf8')).split('\n');
      at.pos = buf.length;
      at.rest = lines.pop();
      offsets.set(tag, at);
      for (const l of lines) {
        const seq = Number(l.split(' ')[0]);
        const by = processed.get(seq);
        if (by === undefined) processed.set(seq, [tag]);
        else by.push(tag);
      }
    }
    while (processed.has(upTo + 1)) upTo++;
  };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      // The position first: everything up to it was processed before it was written.
      const pos = await position(file);
      readOutputs();
      stats.samples++;
      if (pos > upTo && stats.failures.length < 5) fail(`the position is ${pos}, but seq ${upTo + 1} was not processed`);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();

  try {
    while (stats.states < kills) {
      await new Promise((r) => setTimeout(r, 60 + rnd.int(60)));
      const k = rnd.int(MEMBERS);
      const m = slots[k];
      if (!m.ready) continue;
      m.proc.kill('SIGKILL');
      await m.exited;
      killed.add(m.tag);
      stats.states++;
      if ((await position(file)) >= records) fail(`kill ${stats.states} came after the group had finished: make the journal longer`);
      slots[k] = start();
    }
    const guard = setTimeout(() => slots.forEach((m) => m.proc.kill('SIGKILL')), 120_000 + records);
    for (const m of slots) {
      const { code } = await m.exited;
      if (code !== 0) fail(`member ${m.tag} exited with ${code}: ${m.stderr.trim().split('\n').slice(-3).join(' ')}`);
    }
    clearTimeout(guard);
  } finally {
    sampling = false;
    await sampler;
    slots.forEach((m) => m.proc.kill('SIGKILL'));
  }
  readOutputs();
  stats.acked = records;
  for (let seq = 1; seq <= records; seq++) if (!processed.has(seq)) stats.lost++;
  if (stats.lost > 0) fail(`${stats.lost} records were never processed (the first: seq ${upTo + 1})`);
  for (const [seq, by] of processed) {
    stats.duplicates += by.length - 1;
    const survivors = by.filter((t) => !killed.has(t));
    if (survivors.length > 1 && stats.failures.length < 10) fail(`seq ${seq} was processed by ${by.join(', ')}: more than once by members that were not killed`);
  }
  if (stats.duplicates > kills * claimSize) fail(`${stats.duplicates} records processed twice: more than ${kills} kills of one claim each account for`);
  const final = await position(file);
  if (final !== records) fail(`the group's position is ${final}, not ${records}`);
  if (stats.samples < 20) fail(`only ${stats.samples} samples of the position`);
  fs.rmSync(dir, { recursive: true, force: true });
  return stats;
}
