// A torture consumer: a named consumer that "processes" each record by appending its seq to
// `out`, and commits its position every COMMIT_EVERY records, as a consumer that batches its commits does;
// until killed, or until it has committed seq `until` (if given). A kill between commits means the
// records since the last commit are processed again: at least once, never skipped.
import fs from 'node:fs';
import { Consumer } from '../../../dist/index.js';

const COMMIT_EVERY = 256;
const [file, out, untilArg] = process.argv.slice(2);
const until = untilArg === undefined ? Infinity : Number(untilArg);
const c = await Consumer.open(file, 'torture');
fs.writeSync(1, 'ready\n');
if (c.committedSeq < until) {
  // Each seq reaches the file (the page cache, which a kill leaves) before any commit covers it.
  const fd = fs.openSync(out, 'a');
  let n = 0;
  for await (const rec of c.records()) {
    fs.writeSync(fd, `${rec.seq}\n`);
    if (++n % COMMIT_EVERY === 0 || rec.seq >= until) await c.commit(rec.seq);
    if (rec.seq >= until) break;
  }
}
fs.writeSync(1, 'done\n');
