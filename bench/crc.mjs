// CRC-32 by size: the journal's table-driven loop against Node's zlib.crc32, to pick the switch.
// Both check a range inside a larger buffer, as the reader checks a line inside a read chunk.
import { Bench } from 'tinybench';
import { crc32Native, crc32Table, CRC_NATIVE_THRESHOLD } from '../dist/crc.js';
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
  return `${table(['bytes', 'table-driven (ns per call, median)', 'zlib.crc32 (ns per call, median)', 'faster'], rows)}\n\nThe journal switches to zlib.crc32 at ${CRC_NATIVE_THRESHOLD} bytes.`;
}
