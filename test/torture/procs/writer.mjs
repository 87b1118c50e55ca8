// A torture writer: `producers` concurrent producers append until the process is killed, mixing
// append and appendMany groups of 2 to 5, with durability 'always'. Each acknowledged record is
// reported at once, with a synchronous write, as "ack <seq> <tag>" (tags "<name>.<producer>.<k>").
// With a planted bug (argument 4) the torture checker must report violations:
//   appendAtEof: the writer appends at the end of the file without cutting a torn tail first;
//   bufferedWrite: writes are held in memory and reach the file 20 ms later, after the ack, the
//   way a logger with a user-space buffer writes (the ack comes before the data left the process).
import fs from 'node:fs';
import { Journal } from '../../../dist/index.js';
import { io } from '../../../dist/fs/io.js';
import { prng } from '../prng.mjs';
import { recordFor } from '../records.mjs';

const [file, name, producersArg, planted] = process.argv.slice(2);
if (planted === 'appendAtEof') {
  const { writeSync, write } = io;
  io.writeSync = (fd, buf, off, len) => writeSync(fd, buf, off, len, fs.fstatSync(fd).size);
  io.write = (fd, buf, off, len) => write(fd, buf, off, len, fs.fstatSync(fd).size);
  io.ftruncate = async () => {};
} else if (planted === 'bufferedWrite') {
  const { writeSync } = io;
  const later = (fd, buf, off, len, pos) => {
    const copy = Buffer.from(buf.subarray(off, off + len));
    setTimeout(() => writeSync(fd, copy, 0, len, pos), 20);
    return len;
  };
  io.writeSync = later;
  io.write = async (...args) => later(...args);
} else if (planted !== undefined) {
  throw new Error(`unknown planted bug ${planted}`);
}
// Every torn tail this writer cuts must have been saved first, byte for byte: just before the cut,
// compare the bytes about to go with the newest saved cut for that offset, and say how it went.
{
  const { ftruncate } = io;
  const cutsDir = `${file}.cut`;
  io.ftruncate = async (fd, len) => {
    const size = fs.fstatSync(fd).size;
    if (size > len) {
      const going = Buffer.alloc(size - len);
      fs.readSync(fd, going, 0, going.length, len);
      const saved = (fs.existsSync(cutsDir) ? fs.readdirSync(cutsDir) : []).filter((n) => n.endsWith(`-at-${len}.cut`)).sort().at(-1);
      const same = saved !== undefined && fs.readFileSync(`${cutsDir}/${saved}`).equals(going);
      fs.writeSync(1, same ? `cut ok ${len} ${going.length}\n` : `cut BAD ${len} ${going.length} ${saved ?? 'not saved'}\n`);
    }
    return ftruncate(fd, len);
  };
}
const rnd = prng([...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));
// TORTURE_DURABILITY picks the mode; a process kill leaves the page cache, so even an
// 'unsafe-nosync' writer's acknowledged records must survive it.
const j = await Journal.open(file, { durability: process.env.TORTURE_DURABILITY || 'always' });
const say = (s) => fs.writeSync(1, s);

async function producer(p) {
  for (let k = 0; ; ) {
    const n = rnd.chance(0.25) ? 2 + rnd.int(4) : 1;
    const tags = Array.from({ length: n }, (_, i) => `${name}.${p}.${k + i}`);
    k += n;
    if (n === 1) {
      const r = await j.append(recordFor(tags[0]));
      say(`ack ${r.seq} ${tags[0]}\n`);
    } else {
      const rs = await j.appendMany(tags.map(recordFor));
      say(rs.map((r, i) => `ack ${r.seq} ${tags[i]}\n`).join(''));
    }
  }
}

say('ready\n');
await Promise.all(Array.from({ length: Number(producersArg) }, (_, p) => producer(p)));
