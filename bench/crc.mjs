// CRC-32 by size: the journal's table-driven loop against Node's zlib.crc32, to pick the switch.
// Both check a range inside a larger buffer, as the reader checks a line inside a read chunk.
// Then checking a 64 KiB run of lines: each line's CRC by itself, against the run check.
import { Bench } from 'tinybench';
import { encodeBatch, prepareRecord } from '../dist/format/batch.js';
import { crc32, crc32Native, crc32Table, CRC_NATIVE_THRESHOLD } from '../dist/format/crc.js';
import { checkFrames } from '../dist/format/frame.js';
import { median, table } from './lib.mjs';

/** Calls per timed iteration: one call of a few dozen ns is below the timer's resolution. */
const CALLS = 256;

export async function run(args) {
  const sizes = [32, 64, 128, 192, 256, 320, 384, 512, 1024, 4096, 65536];
  const rows = [];
  for (const size of sizes) {
    const buf = Buffer.alloc(size + 64);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 31 + 7) & 0xff;
    const start = 3;
    const end = start + size;
    let sink = 0;
    const ns = { table: [], native: [] };
    for (let r = 0; r < args.rounds; r++) {
      const bench = new Bench({ time: 100 });
      bench
        .add('table', () => { for (let k = 0; k < CALLS; k++) sink ^= crc32Table(buf, start, end); })
        .add('native', () => { for (let k = 0; k < CALLS; k++) sink ^= crc32Native(buf, start, end); });
      await bench.run();
      for (const t of bench.tasks) ns[t.name].push((t.result.period * 1e6) / CALLS);
    }
    const t = median(ns.table);
    const n = median(ns.native);
    rows.push([String(size), t.toFixed(0), n.toFixed(0), t <= n ? 'table' : 'zlib']);
  }
  return [
    table(['bytes', 'table-driven (ns per call, median)', 'zlib.crc32 (ns per call, median)', 'faster'], rows),
    '',
    `The journal switches to zlib.crc32 at ${CRC_NATIVE_THRESHOLD} bytes.`,
    '',
    await runs(args),
  ].join('\n');
}

/** A run of whole lines, as the writer frames them, of about `bytes` each, filling about 64 KiB. */
function runOf(bytes) {
  const pad = 'x'.repeat(Math.max(0, bytes - 60));
  const recs = Array.from({ length: Math.floor(64 * 1024 / bytes) }, (_, i) => prepareRecord({ i, pad }, 1_795_000_000_000 + i));
  const b = encodeBatch(recs, 1_000_000, 0).bytes;
  return b.subarray(0, b.lastIndexOf(0x0a) + 1);
}

/** Checking every line of a run: one CRC per line (find the LF, parse the hex, CRC the JSON), or checkFrames. */
async function runs(args) {
  const hex = (b, at) => {
    let v = 0;
    for (let i = at; i < at + 8; i++) v = v * 16 + (b[i] <= 0x39 ? b[i] - 0x30 : b[i] - 0x57);
    return v;
  };
  const lfs = new Int32Array(8192);
  const rows = [];
  for (const bytes of [70, 140, 400, 1000]) {
    const run = runOf(bytes);
    let lines = 0;
    for (let i = 0; i < run.length; i = run.indexOf(0x0a, i) + 1) lines++;
    let bad = 0;
    const ns = { each: [], run: [] };
    for (let r = 0; r < args.rounds; r++) {
      const bench = new Bench({ time: 100 });
      bench
        .add('each', () => {
          for (let i = 0; i < run.length;) {
            const lf = run.indexOf(0x0a, i);
            if (crc32(run, i + 9, lf) !== hex(run, i)) bad++;
            i = lf + 1;
          }
        })
        .add('run', () => {
          if (checkFrames(run, 0, run.length - 1, 1 << 24, lfs) !== lines) bad++;
        });
      await bench.run();
      for (const t of bench.tasks) ns[t.name].push((t.result.period * 1e6) / lines);
    }
    if (bad > 0) throw new Error('an intact line failed its check');
    const e = median(ns.each);
    const c = median(ns.run);
    rows.push([String(Math.round(run.length / lines)), e.toFixed(0), c.toFixed(0), `${(e / c).toFixed(2)}×`]);
  }
  return table(['line bytes (64 KiB run)', 'each line by itself (ns per line, median)', 'the run at once (ns per line, median)', 'run check faster by'], rows);
}
