// The physical baseline: a hand-written loop that frames each record as the journal does (JSON,
// CRC-32, newline) and calls write + fdatasync itself, with nothing else around it. Its replay is
// readFile + split + JSON.parse of that file, with no checks.
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

export const stores = [
  {
    // 256 concurrent appends become one write + fdatasync of 256 records: the best any group commit can do.
    id: 'raw', peer: 'raw', name: 'raw loop', mode: 'baseline', concurrentAsBatch: true,
    detail: { one: 'write + fdatasync per record', concurrent: 'write + fdatasync per 256 records', batch: 'write + fdatasync per 1,000 records' },
    open,
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
