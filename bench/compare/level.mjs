// LevelDB through classic-level, with { sync: true } on every write as its documentation says a
// write that must survive a crash needs. Keys are zero-padded seqs, so they sort in append order.
import { peer } from './peers.mjs';

const SYNC = { sync: true };
const key = (seq) => String(seq).padStart(16, '0');
const value = (v) => JSON.stringify({ ts: Date.now(), data: v });

async function openDb(dir) {
  const { ClassicLevel } = peer('classic-level');
  const db = new ClassicLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await db.open();
  return db;
}

async function open(dir) {
  const db = await openDb(dir);
  let seq = 0;
  return {
    append: (v) => db.put(key(++seq), value(v), SYNC),
    appendMany: (vs) => db.batch(vs.map((v) => ({ type: 'put', key: key(++seq), value: value(v) })), SYNC),
    stored: async () => {
      const [last] = await db.keys({ reverse: true, limit: 1 }).all();
      return last === undefined ? 0 : Number(last);
    },
    close: () => db.close(),
  };
}

export const stores = [
  {
    id: 'level', peer: 'level', name: 'classic-level', mode: 'durable',
    detail: { one: 'put', concurrent: 'concurrent puts', batch: 'batch of 1,000' },
    open,
  },
];

export const replay = {
  id: 'level', peer: 'level', name: 'classic-level', detail: 'iterator, nextv(1000), JSON.parse',
  async load(dir, records, make) {
    const db = await openDb(dir);
    for (let i = 0; i < records; i += 10_000) {
      const ops = [];
      for (let k = i; k < Math.min(i + 10_000, records); k++) ops.push({ type: 'put', key: key(k + 1), value: value(make(k)) });
      await db.batch(ops);
    }
    // A settled store: reads should not race the compactions the load started.
    await db.compactRange(key(0), key(records + 1));
    const entryBytes = value(make(0)).length + 16;
    return {
      async read() {
        // classic-level's advice: a highWaterMarkBytes that lets nextv(size) fill every call.
        const it = db.iterator({ highWaterMarkBytes: 1000 * entryBytes * 2 });
        let n = 0;
        try {
          for (let entries = await it.nextv(1000); entries.length > 0; entries = await it.nextv(1000)) {
            for (const [k, v] of entries) {
              const { ts, data } = JSON.parse(v);
              const r = { seq: Number(k), ts, data };
              n += r.seq > 0 ? 1 : 0;
            }
          }
        } finally {
          await it.close();
        }
        return n;
      },
      close: () => db.close(),
    };
  },
};
