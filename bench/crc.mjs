// CRC-32 by size: the table-driven crc-32 package against Node's zlib.crc32, to pick the switch.
import { Bench } from 'tinybench';
import { crc32Native, crc32Table, CRC_NATIVE_THRESHOLD } from '../dist/crc.js';
import { table } from './lib.mjs';

export async function run() {
  const sizes = [32, 64, 128, 192, 256, 384, 512, 1024, 4096, 65536];
  const rows = [];
  for (const size of sizes) {
    const buf = Buffer.alloc(size);
    for (let i = 0; i < size; i++) buf[i] = (i * 31 + 7) & 0xff;
    const bench = new Bench({ time: 200 });
    bench.add('table', () => crc32Table(buf)).add('native', () => crc32Native(buf));
    await bench.run();
    const [t, n] = bench.tasks.map((x) => x.result.latency.p50 * 1e6);
    rows.push([String(size), t.toFixed(0), n.toFixed(0), t <= n ? 'crc-32' : 'zlib']);
  }
  return `${table(['bytes', 'crc-32 (ns, median)', 'zlib.crc32 (ns, median)', 'faster'], rows)}\n\nThe journal switches to zlib.crc32 at ${CRC_NATIVE_THRESHOLD} bytes.`;
}
