// A torture consumer: a named consumer that "processes" each record by appending its seq to
// `out`, and commits its position every 64 records, as a consumer that batches its commits does;
// until killed, or until it has committed seq `until` (if given). A kill between commits means the
// records since the last commit are processed again: at least once, never skipped.
import fs from 'node:fs';
import { Consumer } from '../../../dist/index.js';

const [file, out, untilArg] = process.argv.slice(2);
const until = untilArg === undefined ? Infinity : Number(untilArg);
const c = await Consumer.open(file, 'torture');
fs.writeSync(1, 'ready\n');
if (c.committedSeq < until) {
  for await (const rec of c.records()) {
    fs.appendFileSync(out, `${rec.seq}\n`);
    if (rec.seq % 64 === 0 || rec.seq >= until) await c.commit(rec.seq);
    if (rec.seq >= until) break;
  }
}
fs.writeSync(1, 'done\n');
