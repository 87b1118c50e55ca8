// A torture compactor: compacts the journal in a loop, dropping the records marked for it, with a
// short random pause between rounds, until the process is killed.
import fs from 'node:fs';
import { compact } from '../../../dist/index.js';
import { keepUnmarked } from '../records.mjs';

const [file] = process.argv.slice(2);
fs.writeSync(1, 'ready\n');
for (;;) {
  await compact(file, { keep: keepUnmarked, wait: true });
  fs.writeSync(1, 'compacted\n');
  await new Promise((r) => setTimeout(r, Math.random() * 40));
}
