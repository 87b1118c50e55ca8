#!/usr/bin/env node
// `npm run demo`: jsonl-journal's main job end to end, on a journal in a temp directory.
// Concurrent producers append; a writer process is killed with SIGKILL in the middle of writing a
// batch; the journal is reopened, the torn tail cut, and every acknowledged record replayed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Journal, readJournal, verify } from 'jsonl-journal';

const here = new URL(import.meta.url).pathname;

if (process.argv[2] === 'writer') {
  // The child: 16 producers appending (singles and groups of 3) until the process is killed.
  const j = await Journal.open(process.argv[3]);
  const producer = async (p) => {
    for (let k = 0; ; k++) {
      if (k % 4 === 3) {
        const rs = await j.appendMany([0, 1, 2].map((i) => ({ from: 'child', p, k, i })));
        process.stdout.write(rs.map((r) => `ack ${r.seq}\n`).join(''));
      } else {
        const r = await j.append({ from: 'child', p, k, note: 'x'.repeat((k * 13) % 200) });
        process.stdout.write(`ack ${r.seq}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, p) => producer(p)));
}

const fmt = (n) => n.toLocaleString('en-US');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jsonl-journal-demo-'));
const file = path.join(dir, 'events.jsonl');
const acked = new Set();
let failed = false;
const check = (ok, what) => {
  if (!ok) {
    failed = true;
    console.log(`   FAILED: ${what}`);
  }
};

console.log(`jsonl-journal demo: ${file}\n`);

// 1. Concurrent producers in this process share batches (group commit).
const j = await Journal.open(file);
const t0 = performance.now();
await Promise.all(Array.from({ length: 4 }, async (_, p) => {
  for (let k = 0; k < 500; k++) acked.add((await j.append({ from: 'main', p, k })).seq);
}));
const ms = performance.now() - t0;
await j.close();
const batches = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"commit":')).length;
console.log(`1. 4 producers appended ${fmt(acked.size)} records in ${ms.toFixed(0)} ms, durably (fdatasync before each ack),`);
console.log(`   in ${fmt(batches)} batches: one write and one fdatasync per batch, not per record.`);

// 2. A writer process is killed with SIGKILL while half of a batch is on disk.
const child = spawn(process.execPath, [here, 'writer', file], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, JSONL_JOURNAL_KILL_POINT: `mid-write:${30 + Math.floor(Math.random() * 30)}` },
});
let childAcks = 0;
createInterface({ input: child.stdout }).on('line', (l) => {
  acked.add(Number(l.split(' ')[1]));
  childAcks++;
});
const [, signal] = await new Promise((resolve) => child.on('exit', (...a) => resolve(a)));
await new Promise((r) => setImmediate(r));
console.log(`2. A writer process (pid ${child.pid}) appended ${fmt(childAcks)} acknowledged records, then was killed`);
console.log(`   with ${signal} in the middle of writing its next batch.`);
check(signal === 'SIGKILL', 'the writer was not killed by SIGKILL');

// 3. What the crash left.
const before = await verify(file);
const torn = before.tornTail;
console.log(`3. verify: ${fmt(before.records)} committed records, seq ${before.firstSeq}..${before.lastSeq}, ` +
  (torn ? `and a torn tail of ${fmt(torn.bytes)} bytes at offset ${fmt(torn.offset)} (the half-written batch).` : 'no torn tail.'));
check(before.corrupt.length === 0, 'verify found corruption');

// 4. Reopen: the torn tail is cut under the writers' lock, and appending goes on after it.
const sizeBefore = fs.statSync(file).size;
const j2 = await Journal.open(file);
const sizeAfterOpen = fs.statSync(file).size;
const { seq } = await j2.append({ from: 'main', note: 'after the crash' });
acked.add(seq);
await j2.close();
console.log(`4. Reopened: the torn tail was cut (${fmt(sizeBefore)} -> ${fmt(sizeAfterOpen)} bytes) and the next append got seq ${seq}.`);
check(torn === null || sizeAfterOpen === torn.offset, 'open did not cut exactly the torn tail');

// 5. Replay: every acknowledged record, once, in order.
const seen = new Set();
let last = 0;
let inOrder = true;
for await (const rec of readJournal(file)) {
  if (seen.has(rec.seq) || rec.seq <= last) inOrder = false;
  seen.add(rec.seq);
  last = rec.seq;
}
const missing = [...acked].filter((s) => !seen.has(s));
const after = await verify(file);
console.log(`5. Replayed ${fmt(seen.size)} records: ${missing.length === 0 ? 'all' : 'NOT all'} ${fmt(acked.size)} acknowledged records are there, ` +
  `${inOrder ? 'each once, in seq order' : 'but NOT in order'}. verify: ${after.ok ? 'clean' : 'NOT clean'}.`);
check(missing.length === 0, `${missing.length} acknowledged records missing`);
check(inOrder && after.ok, 'replay out of order or verify not clean');

fs.rmSync(dir, { recursive: true, force: true });
process.exitCode = failed ? 1 : 0;
