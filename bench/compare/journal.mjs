// jsonl-journal as the grid drives it: durable ('always') and unsafe ('unsafe-nosync') appends, and
// replay with readJournal.
import path from 'node:path';
import { Journal, readJournal } from 'jsonl-journal';

function open(durability) {
  return async (dir) => {
    const j = await Journal.open(path.join(dir, 'events.jsonl'), { durability });
    return {
      append: (v) => j.append(v),
      appendMany: (vs) => j.appendMany(vs),
      stored: () => j.lastSeq,
      close: () => j.close(),
    };
  };
}

export const stores = [
  {
    id: 'journal', peer: 'journal', name: "jsonl-journal 'always'", mode: 'durable',
    detail: { one: 'append', concurrent: 'append', batch: 'appendMany' },
    open: open('always'),
  },
  {
    id: 'journal-nosync', peer: 'journal', name: "jsonl-journal 'unsafe-nosync'", mode: 'nosync',
    detail: { one: 'append', concurrent: 'append', batch: 'appendMany' },
    open: open('unsafe-nosync'),
  },
];

export const replay = {
  id: 'journal', peer: 'journal', name: 'jsonl-journal', detail: 'readJournal (streaming, every CRC checked)',
  async load(dir, records, make) {
    const file = path.join(dir, 'events.jsonl');
    const j = await Journal.open(file, { durability: 'unsafe-nosync' });
    for (let i = 0; i < records; i += 10_000) {
      await j.appendMany(Array.from({ length: Math.min(10_000, records - i) }, (_, k) => make(i + k)));
    }
    await j.flush();
    await j.close();
    return {
      async read() {
        let n = 0;
        for await (const r of readJournal(file)) n += r.seq > 0 ? 1 : 0;
        return n;
      },
      close() {},
    };
  },
};
