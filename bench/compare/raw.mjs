// The physical baselines: hand-written loops that frame each record as the journal does (JSON,
// CRC-32, newline) and call write (+ fdatasync) themselves, with nothing else around them. Their
// replay is readFile + split + JSON.parse of that file, with no checks.
import fs from 'node:fs';
import path from 'node:path';
import { fdatasync, pwrite, rawLine } from '../lib.mjs';

async function open(dir) {
  const fd = fs.openSync(path.join(dir, 'events.jsonl'), 'w');
  let pos = 0;
  let seq = 0;
  const put = async (buf) => {
    await pwrite(fd, buf, pos);
    pos += buf.length;
    await fdatasync(fd);
  };
  return {
    append: (v) => put(rawLine(++seq, v)),
    appendMany: (vs) => put(Buffer.concat(vs.map((v) => rawLine(++seq, v)))),
    close: async () => fs.closeSync(fd),
  };
}

/**
 * The same loop, overwriting a file of RING bytes that was written and synced before the task, from
 * its start again whenever it is full: the way SQLite's write-ahead log reuses its file after each
 * checkpoint. An fdatasync then has no file size or block allocation to make durable, only data.
 */
const RING = 16 * 1024 * 1024;

async function openRing(dir) {
  const fd = fs.openSync(path.join(dir, 'ring.bin'), 'w+');
  const zeros = Buffer.alloc(1024 * 1024);
  for (let at = 0; at < RING; at += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, at);
  fs.fsyncSync(fd);
  let pos = 0;
  let seq = 0;
  const put = async (buf) => {
    if (pos + buf.length > RING) pos = 0;
    await pwrite(fd, buf, pos);
    pos += buf.length;
    await fdatasync(fd);
  };
  return {
    append: (v) => put(rawLine(++seq, v)),
    appendMany: (vs) => put(Buffer.concat(vs.map((v) => rawLine(++seq, v)))),
    close: async () => fs.closeSync(fd),
  };
}

/**
 * No fsync, and nothing but the system call: the first record's line, encoded once, written again
 * with one blocking write(2) per call (256 or 1,000 copies of it per call in the other workloads).
 * Whatever acknowledges each record once write(2) has taken it pays at least this.
 */
async function openNoSync(dir) {
  const fd = fs.openSync(path.join(dir, 'events.jsonl'), 'w');
  let pos = 0;
  let line = null;
  const copies = new Map();
  const put = (buf) => {
    fs.writeSync(fd, buf, 0, buf.length, pos);
    pos += buf.length;
  };
  return {
    append: (v) => void put((line ??= rawLine(1, v))),
    appendMany: (vs) => {
      line ??= rawLine(1, vs[0]);
      let buf = copies.get(vs.length);
      if (buf === undefined) copies.set(vs.length, (buf = Buffer.concat(vs.map(() => line))));
      put(buf);
    },
    close: async () => fs.closeSync(fd),
  };
}

export const stores = [
  {
    // 256 concurrent appends become one write + fdatasync of 256 records: the best any group commit can do.
    id: 'raw', peer: 'raw', name: 'raw loop', mode: 'baseline', concurrentAsBatch: true,
    detail: { one: 'write + fdatasync per record', concurrent: 'write + fdatasync per 256 records', batch: 'write + fdatasync per 1,000 records' },
    open,
  },
  {
    id: 'raw-ring', peer: 'raw', name: 'raw loop, reused file', mode: 'baseline', concurrentAsBatch: true,
    detail: { one: 'write + fdatasync per record', concurrent: 'write + fdatasync per 256 records', batch: 'write + fdatasync per 1,000 records' },
    open: openRing,
  },
];

/** The floor under the no-fsync modes: compared with jsonl-journal 'unsafe-nosync'. */
export const nosyncStores = [
  {
    id: 'raw-nosync', peer: 'raw', name: 'raw loop, no fsync', mode: 'nosync', chartKind: 'baseline', sync: true, concurrentAsBatch: true,
    detail: { one: 'writeSync of an encoded line', concurrent: 'writeSync of 256 encoded lines', batch: 'writeSync of 1,000 encoded lines' },
    open: openNoSync,
  },
];

export const replay = {
  id: 'raw', peer: 'raw', name: 'raw loop', detail: 'readFile + split + JSON.parse, no checks',
  async load(dir, records, make) {
    const file = path.join(dir, 'events.jsonl');
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < records; i += 10_000) {
      const lines = [];
      for (let k = i; k < Math.min(i + 10_000, records); k++) lines.push(rawLine(k + 1, make(k)));
      fs.writeSync(fd, Buffer.concat(lines));
    }
    fs.closeSync(fd);
    return {
      read() {
        const lines = fs.readFileSync(file, 'utf8').split('\n');
        let n = 0;
        for (const l of lines) if (l.length > 0) n += JSON.parse(l.slice(9)).seq > 0 ? 1 : 0;
        return n;
      },
      close() {},
    };
  },
};
