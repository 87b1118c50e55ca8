// A torture compactor: compacts the journal in a loop, dropping the records marked for it, with a
// short random pause between rounds, until the process is killed.
import fs from 'node:fs';
import { compact } from '../../../dist/index.js';
import { io } from '../../../dist/fs/io.js';
import { keepUnmarked } from '../records.mjs';

const [file] = process.argv.slice(2);
// Every torn tail a compaction leaves out must have been saved first, byte for byte. The old file
// cannot change while the compaction holds the writers' lock, up to the rename that replaces it:
// there, compare the cut this compaction saved with the old file's bytes from its offset on, and
// say how it went, as the writers do.
{
  const { link, rename } = io;
  let saved = null;
  io.link = async (from, to) => {
    await link(from, to);
    if (to.startsWith(`${file}.cut/`)) saved = to;
  };
  io.rename = async (from, to) => {
    if (to === file && saved !== null) {
      const offset = Number(/-at-(\d+)\.cut$/.exec(saved)[1]);
      const old = fs.readFileSync(file);
      const same = fs.readFileSync(saved).equals(old.subarray(offset));
      fs.writeSync(1, same ? `cut ok ${offset} ${old.length - offset}\n` : `cut BAD ${offset} ${old.length - offset} ${saved}\n`);
    }
    if (to === file) saved = null;
    return rename(from, to);
  };
}
fs.writeSync(1, 'ready\n');
for (;;) {
  await compact(file, { keep: keepUnmarked, wait: true });
  fs.writeSync(1, 'compacted\n');
  await new Promise((r) => setTimeout(r, Math.random() * 40));
}
